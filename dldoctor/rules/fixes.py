"""Fix commands, spelled for this machine's distro and package manager."""

from __future__ import annotations

from dldoctor.snapshot.facts import Facts


def family(facts: Facts) -> str:
    """"debian", "rhel", "suse", "arch", "alpine" or "other"."""
    ids = facts.distro_ids
    for name, members in (
        ("debian", ("debian", "ubuntu", "pop", "linuxmint")),
        ("rhel", ("rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol")),
        ("suse", ("suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed")),
        ("arch", ("arch", "manjaro")),
        ("alpine", ("alpine",)),
    ):
        if any(i in members for i in ids):
            return name
    return "other"


def install_nvidia_driver(facts: Facts, branch: str | None = None) -> list[str]:
    """Commands that install (or upgrade to) an NVIDIA driver of `branch` ("580")."""
    fam = family(facts)
    ids = facts.distro_ids
    if fam == "debian" and "ubuntu" in ids:
        return [f"sudo apt install nvidia-driver-{branch}-server" if branch and facts.cloud else
                f"sudo apt install nvidia-driver-{branch}" if branch else "sudo ubuntu-drivers install",
                "sudo reboot"]
    if fam == "debian":
        return ["sudo apt install nvidia-driver firmware-misc-nonfree  # from non-free; or NVIDIA's CUDA repository",
                "sudo reboot"]
    if fam == "rhel":
        module = f"nvidia-driver:{branch}-dkms" if branch else "nvidia-driver:latest-dkms"
        return [f"sudo dnf module install {module}  # NVIDIA's CUDA repository", "sudo reboot"]
    if fam == "suse":
        return ["sudo zypper install nvidia-video-G06 nvidia-compute-utils-G06", "sudo reboot"]
    if fam == "arch":
        return ["sudo pacman -S nvidia", "sudo reboot"]
    return ["install NVIDIA's driver for your distro: https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/",
            "reboot"]


def hold_driver_packages(facts: Facts) -> str | None:
    fam = family(facts)
    if fam == "debian":
        return "sudo apt-mark hold 'nvidia-*' 'libnvidia-*'  # stop unattended upgrades from swapping the driver under you"
    if fam == "rhel":
        return "sudo dnf install 'dnf-command(versionlock)' && sudo dnf versionlock add 'nvidia-*'"
    return None


def add_to_groups(groups: list[str]) -> str:
    return f"sudo usermod -aG {','.join(groups)} $USER  # then log out and back in"
