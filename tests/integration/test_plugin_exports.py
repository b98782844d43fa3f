"""Every plugin built from plugins/NAME/ exports cairn_plugin_entry and nothing
else, returns a descriptor that matches its directory, and documents its
configuration keys. Needs no host: nm, and ctypes for the descriptor."""
import ctypes
import glob
import os
import shutil
import subprocess
import unittest

from test_plugin_harness import PLUGINS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KINDS = {  # the plugins shipped, and their kinds
    "template": 1, "jsonl-tail": 1, "threshold": 2, "symlink": 3, "webhook": 4}


def plugin_names():
    return sorted({os.path.basename(os.path.dirname(c))
                   for c in glob.glob(os.path.join(ROOT, "plugins", "*", "*.c"))})


class ConfigKey(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("type", ctypes.c_int),
                ("default_value", ctypes.c_char_p), ("required", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


class Descriptor(ctypes.Structure):  # cairn_plugin_descriptor, ABI 1.0
    _fields_ = [("size", ctypes.c_uint32), ("abi_major", ctypes.c_uint16),
                ("abi_minor", ctypes.c_uint16), ("kind", ctypes.c_int),
                ("name", ctypes.c_char_p), ("version", ctypes.c_char_p),
                ("description", ctypes.c_char_p), ("config", ctypes.POINTER(ConfigKey)),
                ("init", ctypes.c_void_p), ("fini", ctypes.c_void_p), ("ops", ctypes.c_void_p)]


def config_keys(desc):
    keys, i = [], 0
    while desc.config and desc.config[i].key:
        keys.append(desc.config[i])
        i += 1
    return keys


class PluginExports(unittest.TestCase):
    def test_every_plugin_directory_is_built(self):
        self.assertLessEqual(set(KINDS), set(plugin_names()))
        for name in plugin_names():
            self.assertTrue(os.path.exists(os.path.join(PLUGINS, name + ".so")), name)

    @unittest.skipUnless(shutil.which("nm"), "nm (binutils) is not installed")
    def test_only_the_entry_symbol_is_exported(self):
        for name in plugin_names():
            so = os.path.join(PLUGINS, name + ".so")
            nm = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True,
                                text=True, check=True)
            symbols = [line.split()[-1] for line in nm.stdout.splitlines() if line.strip()]
            self.assertEqual(symbols, ["cairn_plugin_entry"], name)

    @unittest.skipIf("sanitize" in PLUGINS, "python cannot load AddressSanitizer builds")
    def test_descriptor_matches_the_directory_and_documents_its_keys(self):
        for name in plugin_names():
            lib = ctypes.CDLL(os.path.join(PLUGINS, name + ".so"))
            lib.cairn_plugin_entry.restype = ctypes.POINTER(Descriptor)
            desc = lib.cairn_plugin_entry().contents
            self.assertEqual(desc.name.decode(), name)
            self.assertEqual((desc.abi_major, desc.abi_minor), (1, 0), name)
            self.assertEqual(desc.size, ctypes.sizeof(Descriptor), name)
            self.assertIn(desc.kind, (1, 2, 3, 4), name)
            self.assertEqual(desc.kind, KINDS.get(name, desc.kind), name)
            self.assertTrue(desc.init and desc.fini and desc.ops, name)
            with open(os.path.join(ROOT, "plugins", name, "README.md")) as f:
                readme = f.read()
            for key in config_keys(desc):
                self.assertTrue(key.doc, f"{name}: {key.key} has no doc")
                self.assertFalse(key.required and key.default_value,
                                 f"{name}: {key.key} is required and has a default")
                self.assertIn(f"`{key.key.decode()}`", readme,
                              f"{name}: README.md does not document {key.key}")
