"""The HTTPS server: pveproxy's authentication, status lines, bodies, faults and request log.

Real HTTPS on loopback, TLS verified against the simulator's CA, through
proxmoxer (as pvenet's client talks) or ``requests`` where the raw answer
matters. Each test names the pveproxy behaviour it checks (pve-http-server
``APIServer/AnyEvent.pm`` and ``Formatter/Standard.pm``, pve-manager
``HTTPServer.pm``, pve-access-control ``AccessControl.pm``, pve-common ``Ticket.pm``).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from proxmoxer import AuthenticationError, ProxmoxAPI
from proxmoxer.core import ResourceException

from simulator.api import Reply, Request
from simulator.faults import IFRELOAD_FAILED, Fault
from simulator.http.certs import ensure_certs
from simulator.http.requestlog import REDACTED
from simulator.node import INTERFACES, INTERFACES_NEW
from simulator.testing import SimulatorHandle, running_simulator

NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)


def _get(sim: SimulatorHandle, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{sim.url}/api2/json{path}", verify=str(sim.ca_file), **kwargs)


def _post(sim: SimulatorHandle, path: str, **kwargs: Any) -> requests.Response:
    return requests.post(f"{sim.url}/api2/json{path}", verify=str(sim.ca_file), **kwargs)


def _token_header(sim: SimulatorHandle) -> dict[str, str]:
    return {"Authorization": f"PVEAPIToken={sim.token}"}


def _login(sim: SimulatorHandle) -> dict[str, Any]:
    response = _post(sim, "/access/ticket", data={"username": "root@pam", "password": sim.password})
    assert response.status_code == 200, response.reason
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
def dispatched(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Every Request the cluster's router receives (after faults were applied to it)."""
    seen: list[Request] = []
    original = simulator.cluster.router.dispatch

    def record(request: Request) -> Reply:
        seen.append(request)
        return original(request)

    monkeypatch.setattr(simulator.cluster.router, "dispatch", record)
    return seen


# -- authentication ------------------------------------------------------------------------------


def test_api_token_authenticates_proxmoxer(simulator: SimulatorHandle) -> None:
    """``Authorization: PVEAPIToken=USER@REALM!ID=SECRET`` is accepted, TLS verified by the CA."""
    api = simulator.proxmox("token")
    assert api.version.get()["release"]
    assert [n["node"] for n in api.nodes.get()] == ["pve1"]


def test_token_requests_run_as_the_token_id(
    simulator: SimulatorHandle, dispatched: list[Request]
) -> None:
    """verify_token returns the token id, and pveproxy runs the call as ``root@pam!NAME``."""
    simulator.proxmox("token").version.get()
    assert dispatched[-1].user == f"root@pam!{simulator.token_name}"


def test_password_login_returns_ticket_csrf_token_and_caps(simulator: SimulatorHandle) -> None:
    """POST /access/ticket needs no auth and answers username, ticket, CSRF token and cap."""
    data = _login(simulator)
    assert data["username"] == "root@pam"
    assert re.fullmatch(r"PVE:root@pam:[0-9A-F]{8}::[^:\s]+", data["ticket"])
    assert re.fullmatch(r"[0-9A-F]{8}:\S+", data["CSRFPreventionToken"])
    assert data["cap"]["nodes"]["Sys.Modify"] == 1
    assert "clustername" not in data  # a standalone node has no cluster name


def test_password_auth_works_with_proxmoxer(simulator: SimulatorHandle) -> None:
    """proxmoxer's ticket login: cookie ``PVEAuthCookie`` on reads, CSRF header on writes."""
    api = simulator.proxmox("password")
    assert api.nodes.get()[0]["node"] == "pve1"
    # A write passes authentication and CSRF, then meets the missing method.
    with pytest.raises(ResourceException, match="501 Not Implemented: Method 'POST /version'"):
        api.version.post()


def test_login_accepts_user_and_realm_separately(simulator: SimulatorHandle) -> None:
    """create_ticket appends ``@realm`` to a bare user name, as the GUI's login form sends it."""
    response = _post(
        simulator,
        "/access/ticket",
        data={"username": "root", "realm": "pam", "password": simulator.password},
    )
    assert response.json()["data"]["username"] == "root@pam"


def test_valid_ticket_renews_itself_as_password(simulator: SimulatorHandle) -> None:
    """A still valid ticket given as password yields a new ticket (proxmoxer renews this way)."""
    old = _login(simulator)["ticket"]
    response = _post(simulator, "/access/ticket", data={"username": "root@pam", "password": old})
    assert response.status_code == 200
    assert response.json()["data"]["ticket"].startswith("PVE:root@pam:")


def test_login_clustername_in_a_cluster() -> None:
    """A node that is part of a cluster names it in the login answer (``clustername``)."""
    with running_simulator(nodes=("pve1", "pve2")) as sim:
        assert _login(sim)["clustername"] == "pvenet"


@pytest.mark.parametrize(
    ("username", "password"),
    [("root@pam", "wrong"), ("nobody@pam", "wrong"), ("root@pve", None)],
)
def test_bad_login_is_authentication_failure(
    simulator: SimulatorHandle, username: str, password: str | None
) -> None:
    """Every login failure is 401 "authentication failure", so users cannot be probed."""
    response = _post(
        simulator,
        "/access/ticket",
        data={"username": username, "password": password or simulator.password},
    )
    assert (response.status_code, response.reason) == (401, "authentication failure")
    assert response.json() == {"data": None, "message": "authentication failure\n"}


def test_proxmoxer_password_login_failure(simulator: SimulatorHandle) -> None:
    """proxmoxer turns the 401 of /access/ticket into its AuthenticationError."""
    with pytest.raises(AuthenticationError, match="code: 401"):
        ProxmoxAPI(
            f"{simulator.host}:{simulator.port}",
            user="root@pam",
            password="wrong",
            verify_ssl=str(simulator.ca_file),
        )


def test_login_without_password_fails_parameter_verification(simulator: SimulatorHandle) -> None:
    """create_ticket's schema requires ``password``: 400 with a per-parameter error."""
    response = _post(simulator, "/access/ticket", data={"username": "root@pam"})
    assert (response.status_code, response.reason) == (400, "Parameter verification failed.")
    assert response.json()["errors"] == {"password": "property is missing and it is not optional"}


def test_missing_credentials_is_401_no_ticket(simulator: SimulatorHandle) -> None:
    """auth_handler dies "No ticket" without credentials; pveproxy sends it with no body."""
    response = _get(simulator, "/version")
    assert (response.status_code, response.reason) == (401, "No ticket")
    assert response.text == ""


def test_auth_comes_before_path_lookup(simulator: SimulatorHandle) -> None:
    """pveproxy authenticates before it looks the path up: an unknown path without auth is 401."""
    assert _get(simulator, "/no/such/path").status_code == 401


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("PVEAPIToken=root@pam!pvenet=wrong-secret", "invalid token value!"),
        ("PVEAPIToken=root@pam!other=x", "no such token 'other' for user 'root@pam'"),
        ("PVEAPIToken=nobody@pam!pvenet=x", "no such user ('nobody@pam')"),
        ("PVEAPIToken=root@pam!pvenet:x", "no tokenid specified"),
        (
            "PVEAPIToken=rootpam=x",
            "'rootpam' is not a valid token ID - not able to split into user and token parts",
        ),
        ("PVEAPIToken=", "No ticket"),
    ],
)
def test_bad_api_token_is_401_with_verify_token_message(
    simulator: SimulatorHandle, header: str, reason: str
) -> None:
    """verify_token's die message becomes the 401 reason phrase (PVE uses '=' before the secret)."""
    response = _get(simulator, "/version", headers={"Authorization": header})
    assert (response.status_code, response.reason) == (401, reason)


def test_proxmoxer_sees_bad_token_reason(simulator: SimulatorHandle) -> None:
    """proxmoxer reports the 401 reason phrase in its ResourceException."""
    api = ProxmoxAPI(
        f"{simulator.host}:{simulator.port}",
        user="root@pam",
        token_name=simulator.token_name,
        token_value="not-the-secret",
        verify_ssl=str(simulator.ca_file),
    )
    with pytest.raises(ResourceException, match=r"^401 Unauthorized: invalid token value!"):
        api.version.get()


def test_ticket_in_cookie_or_authorization_header(simulator: SimulatorHandle) -> None:
    """pveproxy takes the ticket from the PVEAuthCookie cookie, else from Authorization."""
    ticket = _login(simulator)["ticket"]
    assert _get(simulator, "/version", cookies={"PVEAuthCookie": ticket}).status_code == 200
    header = {"Authorization": f"PVEAuthCookie={ticket}"}
    assert _get(simulator, "/version", headers=header).status_code == 200


def test_forged_or_expired_ticket_is_invalid_pve_ticket(simulator: SimulatorHandle) -> None:
    """verify_rsa_ticket: a bad signature or an age over two hours is "invalid PVE ticket"."""
    ticket = _login(simulator)["ticket"]
    forged = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    expired = simulator.server.auth.issue_ticket("root@pam", now=time.time() - 7201)
    for bad in (forged, expired, "PVE:root@pam:00000000::x", "garbage"):
        response = _get(simulator, "/version", cookies={"PVEAuthCookie": bad})
        assert (response.status_code, response.reason) == (
            401,
            "permission denied - invalid PVE ticket",
        ), bad


def test_ticket_writes_need_the_csrf_token(simulator: SimulatorHandle) -> None:
    """With a ticket every non-GET needs a valid CSRFPreventionToken header, else 401."""
    login = _login(simulator)
    cookies = {"PVEAuthCookie": login["ticket"]}
    stale = simulator.server.auth.issue_csrf_token("root@pam", now=time.time() - 7201)
    for headers in ({}, {"CSRFPreventionToken": "00000000:bogus"}, {"CSRFPreventionToken": stale}):
        response = _post(simulator, "/version", cookies=cookies, headers=headers)
        assert (response.status_code, response.reason) == (
            401,
            "Permission denied - invalid csrf token",
        )
    good = {"CSRFPreventionToken": login["CSRFPreventionToken"]}
    assert _post(simulator, "/version", cookies=cookies, headers=good).status_code == 501
    # Reads need no CSRF token.
    assert _get(simulator, "/version", cookies=cookies).status_code == 200


def test_api_token_writes_need_no_csrf_token(simulator: SimulatorHandle) -> None:
    """auth_handler skips the CSRF check for API tokens."""
    response = _post(simulator, "/version", headers=_token_header(simulator))
    assert response.status_code == 501


# -- status line and body ------------------------------------------------------------------------


def test_reason_phrase_is_first_line_of_the_message(simulator: SimulatorHandle) -> None:
    """pveproxy's status line is ``<code> <first message line>``; proxmoxer shows it and errors."""
    api = simulator.proxmox()
    with pytest.raises(ResourceException) as caught:
        api.nodes("pve1").tasks("UPID:pve1:x").status.get(foo="1")
    assert str(caught.value) == (
        f"400 Bad Request: Parameter verification failed. - {{'foo': '{NOT_IN_SCHEMA}'}}"
    )
    assert caught.value.errors == {"foo": NOT_IN_SCHEMA}


def test_error_body_shape(simulator: SimulatorHandle) -> None:
    """Standard.pm's JSON error: data null, the full message, and errors for bad parameters."""
    response = _get(
        simulator, "/nodes/pve1/tasks/UPID:pve1:x/status?foo=1", headers=_token_header(simulator)
    )
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "data": None,
        "message": "Parameter verification failed.\n",
        "errors": {"foo": NOT_IN_SCHEMA},
    }


def test_success_body_carries_extra_attributes(simulator: SimulatorHandle) -> None:
    """Standard.pm puts ``total`` (and ``changes``) beside ``data`` on success."""
    task = simulator.cluster.tasks.start("pve1", "srvreload", "networking", "root@pam", ["x"], None)
    response = _get(
        simulator, f"/nodes/pve1/tasks/{task.upid}/log", headers=_token_header(simulator)
    )
    assert response.json() == {
        "data": [{"n": 1, "t": "x"}, {"n": 2, "t": "TASK OK"}],
        "total": 2,
    }
    assert response.headers["Server"] == "pve-api-daemon/3.0"


def test_unknown_path_is_501_not_implemented(simulator: SimulatorHandle) -> None:
    """rest_handler answers a path without handler "Method 'GET /x' not implemented"."""
    response = _get(simulator, "/no/such/path", headers=_token_header(simulator))
    assert (response.status_code, response.reason) == (
        501,
        "Method 'GET /no/such/path' not implemented",
    )
    assert response.json() == {
        "data": None,
        "message": "Method 'GET /no/such/path' not implemented",
    }
    with pytest.raises(ResourceException, match=r"^501 Not Implemented: Method 'GET /nope'"):
        simulator.proxmox().nope.get()


def test_path_outside_the_api_is_no_such_uri(simulator: SimulatorHandle) -> None:
    """Outside ``/api2/json`` there is no API: 501 "no such uri"."""
    response = requests.get(f"{simulator.url}/elsewhere", verify=str(simulator.ca_file))
    assert (response.status_code, response.reason) == (501, "no such uri")


# -- parameters ----------------------------------------------------------------------------------


def test_form_params_with_repeated_key_become_a_list(
    simulator: SimulatorHandle, dispatched: list[Request]
) -> None:
    """decode_urlencoded collects a repeated key into a list (SDN ``dhcp-range``)."""
    form = [("dhcp-range", "start-address=10.0.0.10"), ("dhcp-range", "start-address=10.0.0.20")]
    _post(simulator, "/version", data=form, headers=_token_header(simulator))
    assert dispatched[-1].params == {
        "dhcp-range": ["start-address=10.0.0.10", "start-address=10.0.0.20"]
    }


def test_json_body_values_arrive_as_form_strings(
    simulator: SimulatorHandle, dispatched: list[Request]
) -> None:
    """extract_params decodes a JSON body; values reach handlers as a form carries them."""
    body = {"autostart": True, "mtu": 1500, "comments": "x", "gone": None}
    _post(simulator, "/version", json=body, headers=_token_header(simulator))
    assert dispatched[-1].params == {"autostart": "1", "mtu": "1500", "comments": "x"}


def test_query_params_and_cache_buster(
    simulator: SimulatorHandle, dispatched: list[Request]
) -> None:
    """GET parameters come from the query string; pveproxy drops ExtJS's ``_dc``."""
    _get(simulator, "/version?type=bridge&_dc=123", headers=_token_header(simulator))
    assert dispatched[-1].params == {"type": "bridge"}


def test_body_on_delete_is_unexpected_content(simulator: SimulatorHandle) -> None:
    """pveproxy refuses a request body on methods other than POST and PUT."""
    response = requests.delete(
        f"{simulator.url}/api2/json/version",
        data={"x": "1"},
        headers=_token_header(simulator),
        verify=str(simulator.ca_file),
    )
    assert (response.status_code, response.reason) == (
        501,
        "Unexpected content for method 'DELETE'",
    )


# -- faults --------------------------------------------------------------------------------------


def test_error_fault_fails_the_nth_matching_request(simulator: SimulatorHandle) -> None:
    """An armed ``error`` answers the nth matching request with its status and message."""
    api = simulator.proxmox()
    simulator.faults.arm(
        Fault("error", method="GET", path="/version", nth=2, status=503, message="maintenance")
    )
    api.nodes.get()  # does not match
    api.version.get()  # first match
    with pytest.raises(ResourceException, match=r"^503 Service Unavailable: maintenance"):
        api.version.get()
    api.version.get()  # spent
    assert simulator.faults.armed() == []


def test_each_request_counts_once_against_a_fault(simulator: SimulatorHandle) -> None:
    """The server consults the faults exactly once per request."""
    fault = simulator.faults.arm(Fault("error", path="/version", nth=5))
    api = simulator.proxmox()
    for _ in range(3):
        api.version.get()
    assert [f.seen for f in simulator.faults.armed()] == [3]
    assert fault.kind == "error"


def test_drop_fault_closes_the_connection(simulator: SimulatorHandle) -> None:
    """``drop`` closes the connection unanswered: the client sees a connection error."""
    api = simulator.proxmox()
    simulator.faults.arm(Fault("drop", path="/version"))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.version.get()
    assert api.version.get()["release"]  # the next request is answered
    dropped = simulator.requests.select(path_glob="/version")
    assert [e.status for e in dropped] == [0, 200]


def test_lost_fault_does_the_work_and_answers_nobody(simulator: SimulatorHandle) -> None:
    """``lost`` carries the request out, then closes the connection: the client sees a
    connection error although the interface was staged."""
    network = simulator.proxmox().nodes("pve1").network
    simulator.faults.arm(Fault("lost", method="POST", path="/nodes/pve1/network"))
    with pytest.raises(requests.exceptions.ConnectionError):
        network.post(iface="vmbr7", type="bridge")
    assert "iface vmbr7 inet manual" in (simulator.files()[INTERFACES_NEW] or "")
    assert [e.status for e in simulator.requests.select(method="POST")] == [0]


def test_ignore_fault_leaves_a_setting_out_of_the_live_config(simulator: SimulatorHandle) -> None:
    """``ignore`` makes the apply drop an option from every stanza it makes live, silently:
    the task ends OK and the node reports the interface without it."""
    network = simulator.proxmox().nodes("pve1").network
    network.post(iface="vmbr7", type="bridge", mtu=1400, autostart=1)
    simulator.faults.arm(Fault("ignore", method="PUT", path="/nodes/pve1/network", setting="mtu"))
    upid = network.put()
    status = simulator.proxmox().nodes("pve1").tasks(upid).status.get()
    assert status["exitstatus"] == "OK"
    assert "mtu" not in network("vmbr7").get()
    assert "\tmtu 1400" not in (simulator.files()[INTERFACES] or "")


def test_delay_fault_delays_the_answer(simulator: SimulatorHandle) -> None:
    """``delay`` holds the answer back, then answers normally."""
    api = simulator.proxmox()
    simulator.faults.arm(Fault("delay", path="/version", seconds=0.6))
    started = time.monotonic()
    assert api.version.get()["release"]
    assert time.monotonic() - started >= 0.6
    assert simulator.requests.select(path_glob="/version")[-1].ms >= 600


def test_delay_does_not_block_other_requests(simulator: SimulatorHandle) -> None:
    """A delayed request waits on its own; the server keeps answering others meanwhile."""
    simulator.faults.arm(Fault("delay", path="/version", seconds=1.5))
    slow = threading.Thread(target=simulator.proxmox().version.get)
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    simulator.proxmox().nodes.get()
    assert time.monotonic() - started < 1.0
    slow.join()


def test_lock_timeout_fault_has_the_lock_message(simulator: SimulatorHandle) -> None:
    """``lock-timeout`` fails as PVE does when the interfaces lock cannot be taken."""
    simulator.faults.arm(Fault("lock-timeout", path="/version"))
    with pytest.raises(ResourceException) as caught:
        simulator.proxmox().version.get()
    assert str(caught.value) == (
        "500 Internal Server Error: "
        "can't lock file '/etc/network/.pve-interfaces.lock' - got timeout"
    )


def test_task_fail_fault_reaches_the_handler(
    simulator: SimulatorHandle, dispatched: list[Request]
) -> None:
    """``task-fail`` is handed to the cluster: the request carries the task's failure."""
    simulator.faults.arm(Fault("task-fail", path="/version"))
    simulator.proxmox().version.get()
    assert dispatched[-1].task_failure == IFRELOAD_FAILED


# -- request log ---------------------------------------------------------------------------------


def test_request_log_records_every_request(simulator: SimulatorHandle) -> None:
    """Each request, including 401s and unknown paths, is one JSON line in requests.jsonl."""
    api = simulator.proxmox()
    api.version.get()
    api.nodes.get(type="node")
    _get(simulator, "/version")
    with pytest.raises(ResourceException):
        api.nope.get()
    entries = simulator.requests.entries()
    assert [(e.method, e.path, e.params, e.status) for e in entries] == [
        ("GET", "/version", {}, 200),
        ("GET", "/nodes", {"type": "node"}, 200),
        ("GET", "/version", {}, 401),
        ("GET", "/nope", {}, 501),
    ]
    assert all(e.ms >= 0 for e in entries)
    lines = (simulator.state_dir / "requests.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert simulator.requests.count(method="GET", path_glob="/ver*") == 2
    assert simulator.requests.count(status=401) == 1
    simulator.requests.clear()
    assert simulator.requests.entries() == []


def test_secrets_never_reach_the_log_or_output(
    simulator: SimulatorHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    """Password, token secret, tickets and CSRF tokens are redacted from the request log."""
    login = _login(simulator)
    api = simulator.proxmox("password")
    api.nodes.get()
    with pytest.raises(ResourceException):
        api.version.post(password=simulator.password, comment=simulator.token_value)
    simulator.proxmox("token").version.get()
    _post(
        simulator,
        "/access/ticket",
        data={"username": "root@pam", "password": login["ticket"]},
    )
    text = (simulator.state_dir / "requests.jsonl").read_text()
    out, err = capfd.readouterr()
    for secret in (
        simulator.password,
        simulator.token_value,
        login["ticket"],
        login["CSRFPreventionToken"],
    ):
        assert secret not in text
        assert secret not in out + err
    logins = simulator.requests.select(method="POST", path_glob="/access/ticket")
    assert all(e.params["password"] == REDACTED for e in logins)
    post = simulator.requests.select(method="POST", path_glob="/version")[0]
    assert post.params == {"password": REDACTED, "comment": REDACTED}


# -- state and lifecycle -------------------------------------------------------------------------


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    """A restart keeps the CA, the certificate, the token, the password and valid tickets."""
    state = tmp_path / "state"
    with running_simulator(state_dir=state) as first:
        ca = first.ca_file.read_bytes()
        cert = first.server.certs.cert_file.read_bytes()
        token, password = first.token, first.password
        ticket = _login(first)["ticket"]
    with running_simulator(state_dir=state) as second:
        assert second.ca_file.read_bytes() == ca
        assert second.server.certs.cert_file.read_bytes() == cert
        assert (second.token, second.password) == (token, password)
        assert _get(second, "/version", cookies={"PVEAuthCookie": ticket}).status_code == 200
        assert second.proxmox().version.get()["release"]


def test_certificate_names_and_reissue(tmp_path: Path) -> None:
    """The server certificate covers loopback and the node names; a new name keeps the CA."""
    first = ensure_certs(tmp_path, ["pve1"])
    ca = first.ca_file.read_bytes()
    assert _san_names(first.cert_file) >= {"127.0.0.1", "::1", "localhost", "pve1"}
    assert (first.key_file.stat().st_mode & 0o777) == 0o600
    unchanged = first.cert_file.read_bytes()
    assert ensure_certs(tmp_path, ["pve1"]).cert_file.read_bytes() == unchanged
    second = ensure_certs(tmp_path, ["pve1", "pve2"])
    assert second.ca_file.read_bytes() == ca
    assert "pve2" in _san_names(second.cert_file)


def _san_names(cert_file: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(san.get_values_for_type(x509.DNSName))
    return names | {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_server_thread_ends_on_exit(tmp_path: Path) -> None:
    """The context manager stops the server: its thread ends and the port stops answering."""
    with running_simulator(state_dir=tmp_path) as sim:
        name = f"pve-simulator-{sim.port}"
        assert any(t.name == name for t in threading.enumerate())
        url, ca = sim.url, str(sim.ca_file)
    assert not any(t.name == name for t in threading.enumerate())
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/api2/json/version", verify=ca, timeout=2)


def test_server_leaves_the_callers_event_loop_alone() -> None:
    """The server's loop lives in its thread: a caller may run its own loop meanwhile."""

    async def main() -> str:
        with running_simulator() as sim:
            version = await asyncio.to_thread(sim.proxmox().version.get)
            return str(version["release"])

    assert asyncio.run(main())
