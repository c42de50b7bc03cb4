#!/usr/bin/env python3
"""Run a command on a pure cgroup v2 host with every controller: a virtual machine (qemu, software emulation; KVM
with VM_ACCEL=kvm) booting Debian 12's own kernel (package linux-image-amd64).

Why: Debian 12 boots the unified hierarchy, and that is where fpmd runs in production; this machine's container
offers a hybrid one whose cgroup2 part has no memory, cpu or pids controller, so a systemd booted here (the
systemd tests) cannot delegate them and the limits and the memory-full hold of the pools could never be seen.

The machine:
- its root is this machine's / over virtio-9p, read-only; /tmp, /var/tmp, /run and /root are tmpfs; a second
  9p share, the job folder, is /run/vmjob (read-write): the job script, its status and its console output;
- PID 1 is a busybox script (busybox-static) in a small initramfs with the 9p and virtio modules of the
  kernel; it mounts the root and switch_roots into the job script, which mounts cgroup2 at /sys/fs/cgroup,
  enables cpu, io, memory and pids for the root's children, brings up lo, runs the command and powers off;
- nothing of this machine is written but the job folder.

    python3 tests/vm/vm.py [--cwd DIR] [--env K=V]... -- COMMAND...
exits with the command's status (77 when no VM can be started here: not root, or qemu or the kernel missing).
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

EXIT_SKIP = 77
QEMU = "/usr/bin/qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
# What the root over 9p needs, with their dependencies (modules.dep); a kernel may have them built in
MODULES = ["virtio_pci", "9pnet_virtio", "9p"]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules); do insmod "$m" || echo "vm: insmod $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,ro,cache=loose" hostroot /newroot || { echo "vm: cannot mount the root"; poweroff -f; }
for d in tmp var/tmp run root; do mount -t tmpfs -o mode=0755 tmpfs "/newroot/$d"; done
chmod 1777 /newroot/tmp /newroot/var/tmp
mkdir -p /newroot/run/vmjob
mount -t 9p -o "$opts" vmjob /newroot/run/vmjob || { echo "vm: cannot mount the job folder"; poweroff -f; }
for d in proc sys dev; do umount "/$d"; done
exec switch_root /newroot /bin/sh /run/vmjob/job.sh
"""

JOB = r"""set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
# Tests' deadlines for slow steps (a container's boot) are longer under software emulation
export FPMD_IN_VM=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in cpu io memory pids; do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ip link set lo up
hostname fpmd-vm
echo "vm: cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers); running the job"
cd %(cwd)s && env %(env)s %(argv)s > /dev/console 2>&1
echo $? > /run/vmjob/status
sync
echo o > /proc/sysrq-trigger
sleep 60  # PID 1 must not exit before the power is off: the kernel would panic
"""


def log(msg):
    sys.stderr.write("[vm %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def find_kernel():
    """(vmlinuz, modules folder) of the newest installed kernel that has the 9p modules, or (None, None)."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        release = os.path.basename(vmlinuz)[len("vmlinuz-"):]
        moddir = "/lib/modules/" + release
        if glob.glob(moddir + "/kernel/fs/9p/9p.ko*") or _builtin(moddir, "9p"):
            return vmlinuz, moddir
    return None, None


def _builtin(moddir, name):
    try:
        with open(moddir + "/modules.builtin") as f:
            return any(os.path.basename(l.strip()).split(".")[0] == name for l in f)
    except OSError:
        return False


def why_not():
    """Why no VM can run here, or None."""
    if os.geteuid() != 0:
        return "the VM shares / over 9p with the files' own owners: needs root"
    if not os.access(QEMU, os.X_OK):
        return "qemu is missing (apt-get install qemu-system-x86)"
    if not os.access(BUSYBOX, os.X_OK):
        return "busybox is missing (apt-get install busybox-static)"
    if not find_kernel()[0]:
        return "no kernel with 9p in /boot (apt-get install linux-image-amd64)"
    return None


def _with_dependencies(moddir, names):
    """The modules' files (relative to moddir) with what they depend on, each after its dependencies, from
    modules.dep; a name the kernel has built in is not there and needs nothing."""
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            mod, _, needs = line.partition(":")
            deps[mod] = needs.split()
    by_name = {os.path.basename(m).split(".")[0].replace("-", "_"): m for m in deps}
    order = []

    def add(mod):
        if mod in order:
            return
        for d in deps.get(mod, []):
            add(d)
        order.append(mod)

    for name in names:
        if name in by_name:
            add(by_name[name])
    return order


def build_initramfs(workdir, moddir):
    """A newc cpio of busybox, the init script and the modules the root needs."""
    tree = os.path.join(workdir, "initramfs")
    for d in ("bin", "proc", "sys", "dev", "newroot", "lib/modules"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(tree, "bin", "busybox"))
    with open(os.path.join(tree, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(tree, "init"), 0o755)
    order = []
    for rel in _with_dependencies(moddir, MODULES):
        if not rel.endswith(".ko"):
            raise RuntimeError("%s: compressed modules are not handled" % rel)
        dest = "/lib/modules/" + os.path.basename(rel)
        shutil.copy(os.path.join(moddir, rel), tree + dest)
        order.append(dest)
    with open(os.path.join(tree, "modules"), "w") as f:
        f.write("\n".join(order) + "\n")
    cpio = os.path.join(workdir, "initramfs.cpio")
    files = subprocess.run("find . -print0 | sort -z", shell=True, cwd=tree, capture_output=True, check=True).stdout
    with open(cpio, "wb") as out:
        subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], input=files, cwd=tree, stdout=out,
                       check=True)
    return cpio


def run(argv, cwd="/", env=None, timeout=600, memory_mib=4096, cpus=2):
    """Boot, run argv inside (its output streamed to our stderr), power off. Its exit status, or -1 when the
    machine ended without one (the console tells why)."""
    vmlinuz, moddir = find_kernel()
    workdir = tempfile.mkdtemp(prefix="fpmd-vm-")
    try:
        cpio = build_initramfs(workdir, moddir)
        job = os.path.join(workdir, "job")
        os.makedirs(job)
        with open(os.path.join(job, "job.sh"), "w") as f:
            f.write(JOB % {"cwd": shlex.quote(cwd),
                           "env": " ".join(shlex.quote("%s=%s" % kv) for kv in sorted((env or {}).items())),
                           "argv": " ".join(shlex.quote(a) for a in argv)})
        # Software emulation unless VM_ACCEL=kvm: the machines this project runs on are VMs themselves, and there
        # nested KVM hangs the guest's kernel at boot (seen here: /dev/kvm present, no svm flag)
        kvm = os.environ.get("VM_ACCEL") == "kvm" and os.access("/dev/kvm", os.R_OK | os.W_OK)
        cpu = os.environ.get("VM_CPU") or ("host" if kvm else "max")
        cmd = [QEMU, "-machine", "q35,accel=" + ("kvm" if kvm else "tcg"), "-cpu", cpu, "-m", str(memory_mib),
               "-smp", str(cpus), "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
               "-kernel", vmlinuz, "-initrd", cpio,
               "-append", "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init",
               "-fsdev", "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap",
               "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
               "-fsdev", "local,id=vmjob,path=%s,security_model=passthrough" % job,
               "-device", "virtio-9p-pci,fsdev=vmjob,mount_tag=vmjob"]
        log("booting %s (%s, %d MiB, %d CPUs): %s" % (os.path.basename(vmlinuz), "KVM" if kvm else
                                                     "software emulation", memory_mib, cpus, " ".join(argv)))
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                                start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            log("the machine did not power off within %d s" % timeout)
            return -1
        log("the machine powered off after %.1f s (qemu exit %d)" % (time.monotonic() - t0, proc.returncode))
        try:
            with open(os.path.join(job, "status")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            log("the job left no status")
            return -1
    finally:
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    args = sys.argv[1:]
    cwd, env = os.getcwd(), {}
    while args and args[0] != "--":
        if args[0] == "--cwd":
            cwd, args = args[1], args[2:]
        elif args[0] == "--env":
            k, _, v = args[1].partition("=")
            env[k], args = v, args[2:]
        else:
            sys.exit("usage: vm.py [--cwd DIR] [--env K=V]... -- COMMAND...")
    if not args[1:]:
        sys.exit("usage: vm.py [--cwd DIR] [--env K=V]... -- COMMAND...")
    reason = why_not()
    if reason:
        print("SKIP: " + reason)
        sys.exit(EXIT_SKIP)
    status = run(args[1:], cwd=cwd, env=env)
    sys.exit(status if status >= 0 else 1)


if __name__ == "__main__":
    main()
