"""``pvenet:ssh`` settings: stack config wins over the environment, every mistake names what
to set, and the private key is never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provider.errors import ConnectionSettingsError
from provider.host.settings import DEFAULT_CONFIRM_TIMEOUT_S, ssh_settings_from

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5kKDg3iq0mFq9Pj3o7x1u+5cbBvO2W6HWk3c9mZ9nP"


def test_nothing_set_means_no_ssh() -> None:
    assert ssh_settings_from({}, env={}) is None


def test_the_environment_fills_what_config_leaves_out(tmp_path: Path) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(KEY)
    known = tmp_path / "known_hosts"
    known.write_text("")
    settings = ssh_settings_from(
        {"ssh": {"user": "admin"}},
        env={
            "PVENET_SSH_USER": "ignored",
            "PVENET_SSH_KEY": str(key_file),
            "PVENET_SSH_PORT": "2200",
            "PVENET_SSH_KNOWN_HOSTS": str(known),
            "PVENET_SSH_ADDRESSES": "pve1=127.0.0.1:2201, pve2=[::1]:2202,pve3=pve3.lan",
            "PVENET_SSH_CONFIRM_TIMEOUT": "30",
        },
    )
    assert settings is not None
    assert settings.user == "admin"
    assert settings.private_key == KEY
    assert settings.known_hosts == str(known)
    assert settings.confirm_timeout == 30.0
    assert settings.target("pve1", "10.0.0.9") == ("127.0.0.1", 2201)
    assert settings.target("pve2", "10.0.0.9") == ("::1", 2202)
    assert settings.target("pve3", "10.0.0.9") == ("pve3.lan", 2200)
    assert settings.target("pve4", "10.0.0.9") == ("10.0.0.9", 2200)


def test_config_as_json_text_and_defaults() -> None:
    settings = ssh_settings_from({"ssh": '{"hostKey": "' + HOST_KEY + '"}'}, env={})
    assert settings is not None
    assert (settings.user, settings.port, settings.host_keys) == ("root", 22, (HOST_KEY,))
    assert settings.confirm_timeout == DEFAULT_CONFIRM_TIMEOUT_S


@pytest.mark.parametrize(
    ("ssh", "says"),
    [
        ({"usr": "root"}, "pvenet:ssh has no setting 'usr'"),
        ({"port": 70000}, "pvenet:ssh.port 70000 is not a port"),
        ({"port": "22.5"}, "is not a port"),
        ({"user": "root; rm -rf /"}, "is not a login name"),
        ({"hostKey": "AAAA"}, "is not a host key"),
        ({"knownHosts": "/nonexistent/known_hosts"}, "is not a file"),
        ({"addresses": ["pve1"]}, "must map node names to addresses"),
        ({"addresses": {"pve1": "10.0.0.1; reboot"}}, "pvenet:ssh.addresses.pve1"),
        ({"addresses": {"pve1": "10.0.0.1:99999"}}, "is not a port"),
        ({"addresses": {"bad name": "10.0.0.1"}}, "must be a node name"),
        ({"confirmTimeout": 0}, "from 1 to 3600"),
        ({"confirmTimeout": True}, "from 1 to 3600"),
        ("not json", "must be an object"),
    ],
)
def test_a_mistake_names_the_setting(ssh: object, says: str) -> None:
    with pytest.raises(ConnectionSettingsError) as caught:
        ssh_settings_from({"ssh": ssh}, env={})
    assert says in str(caught.value)


def test_a_wrong_private_key_is_refused_without_showing_it() -> None:
    secret = "hunter2-not-a-key"
    with pytest.raises(ConnectionSettingsError) as caught:
        ssh_settings_from({"ssh": {"privateKey": secret}}, env={})
    assert secret not in str(caught.value)
    assert "pulumi config set --secret --path pvenet:ssh.privateKey" in str(caught.value)


def test_the_key_is_not_in_the_repr() -> None:
    settings = ssh_settings_from({"ssh": {"privateKey": KEY}}, env={})
    assert settings is not None
    assert "PRIVATE KEY" not in repr(settings)


def test_a_key_path_that_cannot_be_read_is_named() -> None:
    with pytest.raises(ConnectionSettingsError, match="PVENET_SSH_KEY '/nonexistent/key'"):
        ssh_settings_from({}, env={"PVENET_SSH_KEY": "/nonexistent/key"})


def test_addresses_from_the_environment_must_be_pairs() -> None:
    with pytest.raises(ConnectionSettingsError, match=re.escape("pve1=10.0.0.1,pve2=10.0.0.2")):
        ssh_settings_from({}, env={"PVENET_SSH_ADDRESSES": "127.0.0.1:2201"})
