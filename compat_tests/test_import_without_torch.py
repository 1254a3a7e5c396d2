"""jtorch must import and compute with torch absent (torch is only the tests' oracle)."""
import subprocess
import sys
import textwrap


def test_import_and_train_without_torch():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, Block())
        import jtorch as torch
        x = torch.randn(4, 3, requires_grad=True)
        (x * 2).sum().backward()
        assert torch.allclose(x.grad, torch.full((4, 3), 2.0))
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout
