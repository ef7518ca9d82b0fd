"""The notebook helpers for Lambda: deploy a folder, invoke, read REPORT lines."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from workshop import lambdas

AWS_LINES = [  # the format AWS prints (tab separated), cold then warm
    "REPORT RequestId: 3f1a\tDuration: 3.01 ms\tBilled Duration: 114 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 36 MB\tInit Duration: 110.10 ms\t",
    "REPORT RequestId: 3f1b\tDuration: 1.27 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 36 MB\t",
    "START RequestId: 3f1b Version: $LATEST",
]


def test_parse_reports_reads_aws_lines():
    table = lambdas.parse_reports(AWS_LINES)
    assert list(table["request_id"]) == ["3f1a", "3f1b"]
    assert list(table["cold_start"]) == [True, False]
    assert table.loc[0, "init_ms"] == pytest.approx(110.10)
    assert table.loc[1, "billed_ms"] == 2
    assert table["max_memory_mb"].tolist() == [36, 36]


def test_zip_folder_packs_the_function():
    with zipfile.ZipFile(BytesIO(lambdas.zip_folder(lambdas.FUNCTIONS_DIR / "hello"))) as z:
        assert z.namelist() == ["app.py"]
    with pytest.raises(FileNotFoundError):
        lambdas.zip_folder(lambdas.FUNCTIONS_DIR / "nothing-here")


def test_deploy_invoke_and_reports_on_the_local_backend(cloud):
    name = lambdas.deploy(cloud, "counter", Environment={"Variables": {"GREETING": "hi"}})
    assert name == cloud.name("counter")
    first = lambdas.invoke(cloud, name)
    second = lambdas.invoke(cloud, name)
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert second["lines_in_tmp"] == 2 and second["greeting"] == "hi"
    table = lambdas.reports(cloud, name)
    assert len(table) == 2 and table["cold_start"].tolist() == [True, False]
    assert lambdas.deploy(cloud, "counter") == name  # deploying again replaces it
    assert lambdas.invoke(cloud, name)["invocations"] == 1
