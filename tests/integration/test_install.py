"""make install gives a library a C program builds against with pkg-config."""
import json
import os
import re
import stat
import subprocess
import unittest

from harness import BIN, CairnTest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@unittest.skipIf("sanitize" in BIN, "the installed library is the plain build")
class Install(CairnTest):
    def install(self, target="install", **kw):
        """make TARGET PREFIX=/usr into DESTDIR tmp/root; returns that root."""
        dest = os.path.join(self.tmp, "root")
        subprocess.run(["make", "-s", "-C", ROOT, target, "PREFIX=/usr", f"DESTDIR={dest}"],
                       check=True, capture_output=True, **kw)
        return dest

    def test_the_static_library_keeps_its_internal_names_to_itself(self):
        """A program linked with libcairn.a may name its own functions as
        libcairn's internals are named: only cairn_* leaves the library."""
        dest = self.install()
        env = {**os.environ, "PKG_CONFIG_PATH": f"{dest}/usr/lib/pkgconfig",
               "PKG_CONFIG_SYSROOT_DIR": dest}
        # libcairn.a itself, then what it needs, as shared libraries.
        needs = subprocess.run(["pkg-config", "--print-requires-private", "cairn"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        libs = subprocess.run(["pkg-config", "--libs", *needs], check=True, capture_output=True,
                              text=True).stdout.split() + ["-lm", "-lpthread"]
        prog = os.path.join(self.tmp, "own_names.c")
        with open(prog, "w") as f:
            f.write("#include <stdio.h>\n#include <cairn/client.h>\n"
                    "int error_set(void) { return 1; }\nint kvlog(void) { return 2; }\n"
                    "int msg_decode(void) { return 3; }\n"
                    "int main(void) {\n"
                    "    cairn_error err;\n"
                    "    cairn_client *c = cairn_client_open(\"tcp://127.0.0.1:1\", &err);\n"
                    "    if (!c) return 9;\n"
                    "    cairn_client_close(c);\n"
                    "    printf(\"%d\\n\", error_set() + kvlog() + msg_decode());\n"
                    "    return 0;\n}\n")
        exe = os.path.join(self.tmp, "own_names")
        built = subprocess.run(["cc", "-std=c11", f"-I{dest}/usr/include", prog,
                                f"{dest}/usr/lib/libcairn.a", *libs, "-o", exe],
                               capture_output=True, text=True)
        self.assertEqual(built.returncode, 0, built.stderr)
        run = subprocess.run([exe], capture_output=True, text=True, timeout=30)
        self.assertEqual((run.returncode, run.stdout), (0, "6\n"), run.stderr)

    def test_installed_library_serves_a_c_program(self):
        dest = self.install()
        env = {**os.environ, "PKG_CONFIG_PATH": f"{dest}/usr/lib/pkgconfig",
               "PKG_CONFIG_SYSROOT_DIR": dest}
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "cairn"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        exe = os.path.join(self.tmp, "log_run")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Werror",
                        os.path.join(ROOT, "examples", "c", "log_run.c"), *flags, "-o", exe],
                       check=True, env=env)
        run = subprocess.run([exe], capture_output=True, text=True, timeout=30,
                             env={**env, "LD_LIBRARY_PATH": f"{dest}/usr/lib",
                                  "CAIRN_COORDINATOR": self.coord.endpoint})
        self.assertEqual(run.returncode, 0, run.stderr)
        printed = json.loads(run.stdout)
        self.assertEqual(printed["status"], "FINISHED")
        self.assertEqual(printed["params"], {"learning_rate": "0.01", "epochs": "3"})
        self.assertEqual(self.cli_json("metrics", printed["id"], "loss")[2]["value"], 1 / 3)
        # What only the daemons need (libconfig) is no dependency of the SDK.
        needed = subprocess.run(["readelf", "-d", f"{dest}/usr/lib/libcairn.so.0"],
                                check=True, capture_output=True, text=True).stdout
        self.assertIn("libzmq.so", needed)
        self.assertNotIn("libconfig", needed)
        # Each shipped plugin's configuration is documented beside the docs.
        for plugin in ("jsonl-tail", "threshold", "webhook", "symlink", "template"):
            self.assertTrue(os.path.isfile(f"{dest}/usr/share/doc/cairn/plugins/{plugin}.md"))
        for daemon in ("cairn-agent", "cairn-coordinator"):
            with open(f"{dest}/usr/lib/systemd/system/{daemon}.service") as f:
                unit = f.read()
            self.assertIn(f"ExecStart=/usr/bin/{daemon}\n", unit)
            # A bad config (78) or command line (2): no restart every 2 s.
            self.assertIn("RestartPreventExitStatus=2 78\n", unit)
            self.assertTrue(os.path.exists(f"{dest}/usr/bin/{daemon}"))
        # Without plugins.dirs, the installed agent loads from the plugin
        # directory of its own installation, whatever PREFIX the build had.
        conf = os.path.join(self.tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write('plugins: { required = true; load = ( { name = "hb"; path = "template.so"; } ); };\n')
        agent = subprocess.Popen([f"{dest}/usr/bin/cairn-agent", "-c", conf, "--data-dir",
                                  os.path.join(self.tmp, "agent"), "--sdk-endpoint",
                                  f"ipc://{self.tmp}/agent.sock", "--coordinator",
                                  self.coord.endpoint], stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "event=listening" not in line and agent.poll() is None:
                line = agent.stderr.readline()
            self.assertIn("event=listening", line)
        finally:
            agent.terminate()
            agent.wait(30)
            agent.stderr.close()

    def test_a_plugin_builds_with_one_command_and_loads(self):
        """The author's path: the template, built against the installed header
        with the documented line, checked by the installed cairn-plugin-check."""
        dest = self.install()
        env = {**os.environ, "PKG_CONFIG_PATH": f"{dest}/usr/lib/pkgconfig",
               "PKG_CONFIG_SYSROOT_DIR": dest}
        cflags = subprocess.run(["pkg-config", "--cflags", "cairn"], env=env, check=True,
                                capture_output=True, text=True).stdout.split()
        # The client API and the plugin SDK can share a translation unit.
        both = os.path.join(self.tmp, "both.c")
        with open(both, "w") as f:
            f.write("#include <cairn/client.h>\n#include <cairn/plugin.h>\n"
                    "int main(void) { cairn_audit_entry a = {0}; const cairn_event *e = 0;\n"
                    "  return (int)a.seq + (e != 0); }\n")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", *cflags, both,
                        "-o", os.path.join(self.tmp, "both.o")], check=True, env=env)
        so = os.path.join(self.tmp, "template.so")
        subprocess.run(["cc", "-shared", "-fPIC", *cflags,
                        os.path.join(ROOT, "plugins", "template", "template.c"), "-o", so],
                       check=True, env=env)
        os.chmod(self.tmp, 0o755)
        r = subprocess.run([f"{dest}/usr/bin/cairn-plugin-check", so, "--run-for", "1500"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(lines[0]["event"], "descriptor")
        self.assertEqual(lines[0]["abi"], "1.0")
        self.assertTrue(any(line.get("type") == "heartbeat" for line in lines), r.stdout)
        installed = os.listdir(f"{dest}/usr/lib/cairn/plugins")
        self.assertEqual(sorted(installed), ["jsonl-tail.so", "symlink.so", "template.so",
                                             "threshold.so", "webhook.so"])

    def test_everything_installed_is_readable_whatever_the_umask(self):
        """A root with a strict umask (077, 027) installs files every user can
        read: pkg-config run by a user must find cairn.pc."""
        dest = self.install(preexec_fn=lambda: os.umask(0o077))
        unreadable = []
        for top, dirs, files in os.walk(dest):
            for name in dirs + files:
                path = os.path.join(top, name)
                mode = os.lstat(path).st_mode
                need = 0o005 if stat.S_ISDIR(mode) else 0o004
                if not stat.S_ISLNK(mode) and mode & need != need:
                    unreadable.append(f"{oct(mode & 0o777)} {path[len(dest):]}")
        self.assertEqual(unreadable, [])

    def test_an_install_on_this_system_updates_the_linker_cache(self):
        """Installed straight into the system (no DESTDIR), libcairn is put in
        the dynamic linker's cache, so a program linked with `pkg-config --libs
        cairn` runs: /usr/local/lib is searched only through that cache. A
        staged install (DESTDIR) leaves that to the package manager."""
        def recipe(*args):
            return subprocess.run(["make", "-n", "-s", "-C", ROOT, "install", *args], check=True,
                                  capture_output=True, text=True).stdout
        self.assertIn("ldconfig", recipe("PREFIX=/usr/local"))
        self.assertNotIn("ldconfig", recipe("PREFIX=/usr/local", f"DESTDIR={self.tmp}/root"))

    def test_man_pages_render_and_say_what_the_programs_do(self):
        """Every option a program's --help names, and every command of
        cairn's, is in its man page and the other way round, and groff renders
        each without a warning."""
        dest = self.install()
        pages = {"cairn": "man1/cairn.1", "cairn-plugin-check": "man1/cairn-plugin-check.1",
                 "cairn-agent": "man8/cairn-agent.8",
                 "cairn-coordinator": "man8/cairn-coordinator.8"}
        for program, page in pages.items():
            path = f"{dest}/usr/share/man/{page}"
            warned = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                                    capture_output=True, text=True)
            self.assertEqual((warned.returncode, warned.stderr), (0, ""), page)
            with open(path) as f:  # as text: escapes and fonts taken out
                text = re.sub(r"\\f[BIR]|\\&", "", f.read()).replace("\\-", "-")
            helped = subprocess.run([os.path.join(BIN, program), "--help"], capture_output=True,
                                    text=True)
            usage = helped.stdout + helped.stderr
            options = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
            for option in sorted(set(options.findall(usage))):
                self.assertTrue(option in text, f"{page} does not name {option}")
            for option in sorted(set(options.findall(text)) - {"--help", "--version"}):
                self.assertTrue(option in usage, f"{page} names {option}, which --help does not")
            if program == "cairn":
                commands = re.findall(r"^  (cairn [^\n]*)$", usage, re.M)
                self.assertGreater(len(commands), 30)
                for command in commands:
                    self.assertTrue(command in text, f"{page} lacks '{command}'")

    def test_uninstall_takes_back_what_install_put_and_nothing_else(self):
        dest = self.install()
        theirs = [f"{dest}/etc/cairn/coordinator.conf", f"{dest}/usr/lib/cairn/plugins/theirs.so"]
        for path in theirs:
            with open(path, "w") as f:
                f.write("an operator's own\n")
        self.install("uninstall")
        left = sorted(os.path.join(top, name) for top, _, files in os.walk(dest) for name in files)
        self.assertEqual(left, sorted(theirs))
