"""The tier leaves the machine as it found it (runs after every other test)."""

from __future__ import annotations

import difflib
import os

import pytest

from tests.kernel import probes
from tests.kernel.conftest import Tier
from tests.kernel.netns import existing_namespaces

pytestmark = pytest.mark.kernel


def test_host_unchanged(tier: Tier) -> None:
    """Host links, addresses, routes, firewall and forwarding are as before; nothing is left."""
    for lab in tier.labs:
        assert not lab.namespaces, f"namespaces left by {lab.prefix}: {lab.namespaces}"
        assert not lab.processes, f"processes left by {lab.prefix}: {list(lab.processes)}"
        assert not lab.strays, f"unexpected processes in {lab.prefix}*: {lab.strays}"
    ours = f"pvk{os.getpid()}-"
    assert not {n for n in existing_namespaces() if n.startswith(ours)}
    if tier.guest is not None:
        tier.guest.wait()
        assert tier.guest.process is not None
        assert tier.guest.process.poll() is not None, "QEMU still running"
    after = probes.host_snapshot()
    changed = []
    for key, before in tier.host_before.items():
        if after.get(key) != before:
            diff = difflib.unified_diff(
                before.splitlines(), after.get(key, "").splitlines(), key, key, lineterm=""
            )
            changed.append("\n".join(diff))
    assert not changed, "host network state changed:\n" + "\n".join(changed)
