from __future__ import annotations

import pytest

from gpufleet.catalog.gpuinfo import GpuInfo, GpuInfoError, parse_gpu_info


def test_python_dict_literal() -> None:
    info = parse_gpu_info(
        "{'Gpus': [{'Name': 'T4', 'Manufacturer': 'NVIDIA', 'Count': 4, "
        "'MemoryInfo': {'SizeInMiB': 16384}}], 'TotalGpuMemoryInMiB': 65536}"
    )
    assert info == GpuInfo(name="T4", count=4, memory_mib=16384, total_memory_mib=65536)


def test_json_with_double_quotes() -> None:
    info = parse_gpu_info(
        '{"Gpus": [{"Name": "B300", "Count": 1, "MemoryInfo": {"SizeInMiB": 268288}}], '
        '"TotalGpuMemoryInMiB": 268288}'
    )
    assert info == GpuInfo(name="B300", count=1, memory_mib=268288, total_memory_mib=268288)


def test_json_null_inside_a_python_dict() -> None:
    info = parse_gpu_info(
        "{'Gpus': [{'Name': 'L40', 'Manufacturer': null, 'Count': 1, "
        "'MemoryInfo': {'SizeInMiB': 49152}}], 'TotalGpuMemoryInMiB': 49152}"
    )
    assert info is not None
    assert info.name == "L40"


def test_gcp_minimal_form_has_memory_only() -> None:
    info = parse_gpu_info("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}")
    assert info == GpuInfo(memory_mib=40960)


def test_total_memory_inside_the_gpu_list() -> None:
    info = parse_gpu_info(
        "{'Gpus': [{'Name': 'L40S', 'Count': 2.0, 'MemoryInfo': {'SizeInMiB': 46080}, "
        "'TotalGpuMemoryInMiB': 92160}]}"
    )
    assert info is not None
    assert info.total_memory_mib == 92160


def test_count_written_as_a_string() -> None:
    info = parse_gpu_info(
        "{'Gpus': [{'Name': 'A40', 'Count': '1.0', 'MemoryInfo': {'SizeInMiB': 49152}}]}"
    )
    assert info is not None
    assert info.count == 1.0


@pytest.mark.parametrize("text", ["K80", "tpu-v6e-8", "Radeon MI25"])
def test_plain_accelerator_name(text: str) -> None:
    assert parse_gpu_info(text) == GpuInfo(name=text)


def test_empty_cell_is_none() -> None:
    assert parse_gpu_info("  ") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{'Gpus': [", "not a Python dict or JSON object"),
        ("{'Gpus': 'T4'}", "'Gpus' must be a list"),
        ("{'Gpus': [{'Count': 'many'}]}", "Count must be a number"),
        ("{'Gpus': [{'MemoryInfo': 5}]}", "'MemoryInfo' must be a dict"),
    ],
)
def test_malformed_gpu_info_is_an_error(text: str, message: str) -> None:
    with pytest.raises(GpuInfoError, match=message):
        parse_gpu_info(text)
