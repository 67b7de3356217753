#!/bin/sh
# Install everything the lab needs on Debian 12 / Ubuntu 22.04+, as root. Idempotent.
#
#   sh scripts/setup.sh          what a student needs to run the labs
#   sh scripts/setup.sh --test   that, and what the tests need too: headless Chromium,
#                                its driver and selenium, and Firefox with a websocket
#                                client, for the web page's browser tests; ruby, which
#                                reads the Vagrantfile as Vagrant does
#
# Everything comes from the distribution's packages, because `sudo python` is the
# system interpreter (/usr/bin/python via python-is-python3), never a venv.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo sh "$0" "$@"
    fi
    echo "setup.sh: run as root: su -c 'sh $0' (this machine has no sudo yet; the script installs it)" >&2
    exit 1
fi

TEST=""
for arg in "$@"; do
    case "$arg" in
        --test) TEST=1 ;;
        *) echo "setup.sh: unknown option $arg (the only one is --test)" >&2; exit 2 ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive
PACKAGES="
    sudo python-is-python3 python3-pytest
    mininet bridge-utils iproute2 iputils-ping procps
    python3-scapy python3-pyroute2 python3-nftables
    tcpdump tshark nftables
    redis-server haproxy python3-cryptography openssl
"
# Debian names the browsers chromium and firefox-esr; Ubuntu ships both as snaps, which
# a VM without snapd (and CI) cannot run, so the tests use Debian's packages.
if [ -n "$TEST" ]; then
    PACKAGES="$PACKAGES chromium chromium-driver python3-selenium firefox-esr python3-websocket ruby"
fi

missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    apt-get update -q
    # tshark asks whether non-root users may capture; the lab runs as root anyway.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# browser-server starts its own redis-server and haproxy inside Mininet hosts; the
# packages' system services would listen on the machine itself: none may.
if [ -d /run/systemd/system ]; then
    for service in redis-server haproxy; do
        systemctl disable --now "$service" >/dev/null 2>&1 || true
    done
fi

# Linux bridges must not hand frames to iptables/nftables of the host: Mininet warns
# otherwise, and the lab's own nft rules must see only what they target.
if [ -d /proc/sys/net/bridge ]; then
    sysctl -q -w net.bridge.bridge-nf-call-arptables=0 \
                 net.bridge.bridge-nf-call-iptables=0 \
                 net.bridge.bridge-nf-call-ip6tables=0 || true
fi

/usr/bin/python -c "import mininet.net, scapy, pyroute2, nftables"
if [ -n "$TEST" ]; then
    /usr/bin/python -c "import selenium" && command -v chromium chromedriver >/dev/null \
        && echo "setup.sh: the browser for the tests is ready (chromium, chromedriver, selenium)"
    /usr/bin/python -c "import websocket" && command -v firefox-esr >/dev/null \
        && echo "setup.sh: the second browser for the tests is ready (firefox-esr, websocket)"
    /usr/bin/ruby -e 'exit' && echo "setup.sh: ruby is ready to read the Vagrantfile in the tests"
fi
echo "setup.sh: ready. Try: sudo python -m lab run arp-basic"
