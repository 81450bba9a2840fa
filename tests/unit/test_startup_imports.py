"""What `slo-service serve` imports before it is ready: the heavy data libraries wait for their first use."""

from __future__ import annotations

import subprocess
import sys

# pandas and pyarrow are ~0.4 s of CPU; Evidently (and scikit-learn, scipy) seconds more, in worker processes only.
LAZY = ("pandas", "pyarrow", "evidently", "sklearn", "scipy")


def test_serving_imports_no_data_library_until_a_drift_batch_needs_one() -> None:
    code = (
        "import sys, slo_service.cli, slo_service.wiring, slo_service.api.app;"
        f"print(','.join(m for m in {LAZY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
