#!/usr/bin/env python3
"""Runs the integration tests (test_*.py here) and prints one line per test
and a closing "integration: N passed, N failed" line."""
import os
import sys
import time
import unittest


class LineResult(unittest.TextTestResult):
    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _line(self, word, test):
        secs = time.monotonic() - self._started
        print(f"{word} integration/{test.id()} ({secs:.1f}s)", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line("PASS", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line("FAIL", test)

    def addError(self, test, err):
        super().addError(test, err)
        self._line("FAIL", test)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    pattern = os.environ.get("CAIRN_TESTS", "test_*.py")
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern)
    runner = unittest.TextTestRunner(resultclass=LineResult, verbosity=0, stream=sys.stderr)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"integration: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
