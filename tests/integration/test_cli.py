"""The scry command line: help, version, usage errors (exit 2), `scry check
config` (exit 0 / 2 with file:line:col), and `scry query` against a server."""
import os
import re
import tempfile
import unittest

from harness import Server, run_cli


class CliTest(unittest.TestCase):
    def test_version(self):
        code, out, _ = run_cli("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^scry \d+\.\d+\.\d+ \(revision \S+")

    def test_help_on_every_command(self):
        for cmd in ("server", "agent", "query", "check", "tsdb"):
            code, out, err = run_cli(cmd, "--help")
            self.assertEqual(code, 0, cmd)
            self.assertIn(f"usage: scry {cmd}", out)
        code, out, _ = run_cli("--help")
        self.assertEqual(code, 0)
        for cmd in ("server", "agent", "query", "check", "tsdb"):
            self.assertIn(cmd, out)

    def test_bad_flags_exit_2_with_usage(self):
        cases = [
            ("server", "--bogus"),
            ("server", "--listen"),
            ("server", "--log-format", "xml"),
            ("server", "--log-level", "loud"),
            ("server", "stray"),
            ("agent", "--bogus"),
            ("query",),
            ("query", "up", "--start", "1"),
            ("query", "up", "--at", "1", "--start", "1", "--end", "2", "--step", "1"),
            ("check",),
            ("check", "nonsense"),
            ("tsdb",),
            ("tsdb", "frobnicate"),
            ("tsdb", "dump", "--bogus", "x"),
            ("nosuchcommand",),
        ]
        for args in cases:
            code, out, err = run_cli(*args)
            self.assertEqual(code, 2, args)
            self.assertIn("usage: scry", err, args)

    def test_check_config(self):
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.yml")
            bad = os.path.join(d, "bad.yml")
            with open(good, "w") as f:
                f.write("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100']\n")
            with open(bad, "w") as f:
                f.write("scrape_configs:\n  - job_name: node\n    scrape_intervall: 15s\n")
            code, out, _ = run_cli("check", "config", good)
            self.assertEqual(code, 0)
            self.assertIn("ok", out)
            code, _, err = run_cli("check", "config", bad)
            self.assertEqual(code, 2)
            self.assertRegex(err, re.escape(bad) + r":3:5: scrape_configs\[0\]\.scrape_intervall: ")
            code, _, err = run_cli("check", "config", good, bad)
            self.assertEqual(code, 2)
            code, _, err = run_cli("check", "config", os.path.join(d, "missing.yml"))
            self.assertEqual(code, 2)
            self.assertIn("missing.yml", err)

    def test_query_prints_a_table_and_reports_errors_with_exit_1(self):
        with Server() as s:
            code, out, err = run_cli("query", "1 + 1", "--server", s.api)
            self.assertEqual(code, 0, err)
            self.assertIn("2", out)
            code, out, err = run_cli("query", 'label_replace(vector(3), "job", "x", "", "")',
                                     "--server", s.api)
            self.assertEqual(code, 0, err)
            self.assertRegex(out, r'\{job="x"\}\s+3\b')
            code, out, err = run_cli("query", "sum(", "--server", s.api)
            self.assertEqual(code, 1)
            self.assertIn("HTTP 400", err)
            self.assertIn("parse error", err)
        code, out, err = run_cli("query", "up", "--server", "http://127.0.0.1:1")
        self.assertEqual(code, 1)
        self.assertIn("scry query", err)


if __name__ == "__main__":
    unittest.main()
