#!/usr/bin/env bash
# Installs the system tools pvenet's kernel test tier (tests/kernel) needs on a
# Debian machine. The tier calls this at session start, as root, only when a
# tool is missing; run it by hand to prepare a machine once.
#
#   tests/kernel/install-deps.sh [base] [qemu]     (default: base qemu)
#
#   base  ip/bridge (iproute2), iptables(-save), nft, curl, /usr/bin/python3
#         (Debian's ifupdown2 runs on it)
#   qemu  qemu-system-x86_64 and a static busybox, for the scenarios that need
#         kernel modules this kernel lacks (bond, 802.1q, bridge vlan_filtering)
#
# ifupdown2, openssh-server (+ libwrap0, for the host-rules node's sshd) and the guest
# kernel are NOT installed: the tier downloads their Debian packages (apt-get download)
# and unpacks them into its cache (/var/tmp/pvenet-kernel-cache). Installing
# openssh-server would start an sshd on this machine's port 22 and write /etc/ssh.
# Prints what it installs; installs nothing when every tool is present.
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(base qemu)

# command -> Debian package that provides it
declare -A base=(
    [ip]=iproute2 [bridge]=iproute2 [iptables]=iptables [iptables-save]=iptables
    [nft]=nftables [curl]=curl [/usr/bin/python3]=python3
)
declare -A qemu=([qemu-system-x86_64]=qemu-system-x86 [busybox]=busybox-static)

missing=()
need() {  # need COMMAND PACKAGE: queue PACKAGE when COMMAND is not found
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
        case " ${missing[*]-} " in *" $2 "*) ;; *) missing+=("$2") ;; esac
    fi
}
for group in "${groups[@]}"; do
    case $group in
        base) for c in "${!base[@]}"; do need "$c" "${base[$c]}"; done ;;
        qemu) for c in "${!qemu[@]}"; do need "$c" "${qemu[$c]}"; done ;;
        *) echo "install-deps.sh: unknown group '$group' (base, qemu)" >&2; exit 2 ;;
    esac
done
# The guest's initramfs has no libc: busybox must be Debian's static build.
if [[ " ${groups[*]} " == *" qemu "* ]] \
    && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    case " ${missing[*]-} " in *" busybox-static "*) ;; *) missing+=(busybox-static) ;; esac
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps.sh: nothing to install (${groups[*]})"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: must run as root to install: ${missing[*]}" >&2
    exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps.sh: installed ${missing[*]}"
