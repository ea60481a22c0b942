"""README.md shows exactly two set-up commands, and .ci/run runs the test one.

The commands sit in the README between <!-- setup:begin --> and
<!-- setup:end -->; a user who reads only the README runs these, so CI must
run the same thing."""
import os
import re
import unittest

ROOT = os.environ.get("SCRY_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))


def read(*p):
    with open(os.path.join(ROOT, *p)) as f:
        return f.read()


def setup_commands():
    m = re.search(r"<!-- setup:begin -->(.*?)<!-- setup:end -->", read("README.md"), re.S)
    assert m, "README.md lacks the setup block"
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", m.group(1), re.S).group(1)
    cmds = [l.split("#")[0].strip() for l in block.splitlines()]
    return [c for c in cmds if c]


class ReadmeTest(unittest.TestCase):
    def test_exactly_two_commands_that_exist(self):
        cmds = setup_commands()
        self.assertEqual(len(cmds), 2, cmds)
        for c in cmds:
            script = c.split()[0]
            self.assertTrue(os.access(os.path.join(ROOT, script), os.X_OK), script)
        self.assertIn("run-server", cmds[0])
        self.assertIn("run-tests", cmds[1])

    def test_ci_runs_the_readme_test_command(self):
        test_cmd = setup_commands()[1]
        ci = [l.strip() for l in read(".ci", "run").splitlines() if not l.strip().startswith("#")]
        script = test_cmd.lstrip("./")
        self.assertTrue(any(l.startswith(script) and "--sanitize" not in l for l in ci), ci)
        self.assertTrue(any(l.startswith(script + " --sanitize") for l in ci), ci)

    def test_ci_installs_with_apt_get_update_first(self):
        deps = read("scripts", "deps.sh")
        self.assertLess(deps.index("apt-get update"), deps.index("apt-get install"))
        for s in ("run-server", "run-tests"):
            self.assertIn("scripts/deps.sh", read("scripts", s))


if __name__ == "__main__":
    unittest.main()
