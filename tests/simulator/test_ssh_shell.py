"""The node's small ``/bin/sh``: what a script can say and the status it ends with.

Run in process on the node (``sim.ssh.run``, the exec path without the SSH transport);
each case is a script, its arguments, and the exit status and output dash would give.
"""

from __future__ import annotations

import pytest

from simulator.testing import SimulatorHandle

SCRIPT = "/etc/pvenet/test.sh"


def script(sim: SimulatorHandle, body: str, *args: str) -> tuple[int, str, str]:
    done = sim.ssh.run("pve1", f"install -D -m 0755 /dev/stdin {SCRIPT}", body.encode())
    assert done.status == 0, done
    result = sim.ssh.run("pve1", " ".join([SCRIPT, *args]))
    return result.status, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("body", "args", "status", "stdout"),
    [
        ("#!/bin/sh\nexit 3\n", [], 3, ""),
        ("#!/bin/sh\ncat /etc/nothing\n", [], 1, ""),
        ("#!/bin/sh\ncat /etc/nothing\ntrue\n", [], 0, ""),
        ("#!/bin/sh\nfalse || exit 4\nexit 5\n", [], 4, ""),
        ("#!/bin/sh\ntrue && exit 6\nexit 7\n", [], 6, ""),
        ('#!/bin/sh\nif [ "$1" = a ]; then\n\texit 1\nelse\n\texit 2\nfi\n', ["a"], 1, ""),
        ('#!/bin/sh\nif [ "$1" = a ]; then\n\texit 1\nelse\n\texit 2\nfi\n', ["b"], 2, ""),
        (
            '#!/bin/sh\nx="$1"\nif [ -n "$x" ]; then\n\tif [ "$x" != b ]; then\n'
            "\t\texit 8\n\tfi\n\texit 9\nfi\nexit 10\n",
            ["a"],
            8,
            "",
        ),
        ('#!/bin/sh\nx="$1"\nif [ -n "$x" ]; then\n\texit 9\nfi\nexit 10\n', [], 10, ""),
        ("#!/bin/sh\n[ ! -x /etc/pvenet/none.sh ] || exit 1\nexit 0\n", [], 0, ""),
        ("#!/bin/sh\ntest -f /etc/network/interfaces && exit 11\n", [], 11, ""),
        ("#!/bin/sh\nexec sysctl -n net.ipv4.ip_forward\nexit 12\n", [], 0, "0\n"),
        ("#!/bin/sh\n# only a comment\n\n", [], 0, ""),
        (
            "#!/bin/sh\nsysctl -n 'net.ipv4.ip_forward' \"net.ipv4.conf.lo.proxy_arp\"\n",
            [],
            0,
            "0\n0\n",
        ),
    ],
)
def test_a_script_ends_with_the_status_dash_would_give(
    simulator: SimulatorHandle, body: str, args: list[str], status: int, stdout: str
) -> None:
    assert script(simulator, body, *args)[:2] == (status, stdout)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("#!/bin/sh\nif true; then\n\ttrue\n", 'end of file unexpected (expecting "fi")'),
        ("#!/bin/sh\nfi\n", '"fi" unexpected'),
        ("#!/bin/sh\nif true\nthen\n\ttrue\nfi\n", 'expected "if LIST; then" on one line'),
        ("#!/bin/sh\nwhile true; do\n\ttrue\ndone\n", '"while" unsupported'),
        ("#!/bin/sh\necho $(hostname)\n", "unsupported"),
        ("#!/bin/sh\nx=`hostname`\n", "unsupported"),
        ("#!/bin/sh\ncat /etc/network/interfaces 2>/dev/null\n", "unsupported"),
    ],
)
def test_a_construct_the_shell_does_not_know_is_refused(
    simulator: SimulatorHandle, body: str, message: str
) -> None:
    status, stdout, stderr = script(simulator, body)
    assert status == 2
    assert stdout == ""
    assert stderr.startswith(f"{SCRIPT}: ")
    assert "Syntax error: " in stderr
    assert message in stderr


def test_a_script_of_another_interpreter_is_not_run(simulator: SimulatorHandle) -> None:
    status, _stdout, stderr = script(simulator, "#!/usr/bin/python3\nprint('hi')\n")
    assert status == 2
    assert "only /bin/sh scripts" in stderr


def test_sh_runs_a_file_without_its_execute_bit_and_says_when_there_is_none(
    simulator: SimulatorHandle,
) -> None:
    simulator.ssh.run("pve1", f"install -D -m 0644 /dev/stdin {SCRIPT}", b"#!/bin/sh\nexit 4\n")
    assert simulator.ssh.run("pve1", f"sh {SCRIPT}").status == 4
    missing = simulator.ssh.run("pve1", "/bin/sh /etc/pvenet/none.sh")
    assert (missing.status, missing.stderr) == (
        2,
        "sh: 0: cannot open /etc/pvenet/none.sh: No such file\n",
    )
