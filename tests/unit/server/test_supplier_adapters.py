"""Supplier adapters: the registry, config errors, the simulated supplier's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gpufleet.domain.purchase_order import PoState
from gpufleet.server.suppliers import AdapterError, OrderView, adapter_names, open_adapter

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def view(state: PoState = PoState.SUBMITTED, **fields: object) -> OrderView:
    base: dict[str, object] = {
        "id": 7, "supplier": "simco", "gpu": "H100-SXM", "units": 2, "gpus_per_unit": 8,
        "contract": "reserved", "lead_time_days": 10.0, "state": state, "submitted_at": T0,
    }  # fmt: skip
    base.update(fields)
    return OrderView(**base)  # type: ignore[arg-type]


def test_registry_and_config_errors_name_the_key() -> None:
    assert {"manual", "simulated"} <= set(adapter_names())
    with pytest.raises(ValueError, match="unknown supplier adapter 'aws'"):
        open_adapter("aws")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lead'\]"):
        open_adapter("simulated", {"lead": 3})
    with pytest.raises(ValueError, match=r"adapter_config\.fault: 'melted' is not one of"):
        open_adapter("simulated", {"fault": "melted"})
    with pytest.raises(ValueError, match=r"adapter_config\.failed_gpus: expected a whole number"):
        open_adapter("simulated", {"failed_gpus": 1.5})
    with pytest.raises(ValueError, match="takes no settings"):
        open_adapter("manual", {"x": 1})
    assert open_adapter("manual").poll(view(), T0 + timedelta(days=99)).steps == ()


def test_the_simulated_supplier_confirms_ships_and_delivers_on_its_timeline() -> None:
    supplier = open_adapter("simulated", {"confirm_after_h": 2, "delay_days": 1, "failed_gpus": 3})
    assert supplier.poll(view(), T0 + timedelta(hours=1)).steps == ()
    early = supplier.poll(view(), T0 + timedelta(days=6))
    assert [s.state for s in early.steps] == [PoState.CONFIRMED, PoState.DELIVERING]
    assert early.steps[0].at == T0 + timedelta(hours=2)
    assert early.nodes == ()
    late = supplier.poll(view(PoState.DELIVERING), T0 + timedelta(days=30))
    assert [s.state for s in late.steps] == [PoState.DELIVERED]
    assert late.steps[0].at == T0 + timedelta(days=11)  # lead time + one day late, not "now"
    assert [n.name for n in late.nodes] == ["simco-po7-1", "simco-po7-2"]
    assert sum(len(n.faults) for n in late.nodes) == 3
    again = open_adapter("simulated", {"confirm_after_h": 2, "delay_days": 1, "failed_gpus": 3})
    assert again.poll(view(PoState.DELIVERING), T0 + timedelta(days=30)).nodes == late.nodes
    assert supplier.poll(view(PoState.DELIVERED), T0 + timedelta(days=40)).steps == ()


def test_speedup_compresses_the_timeline_and_cancel_in_transit_is_refused() -> None:
    supplier = open_adapter("simulated", {"speedup": 86400})  # a day per second
    done = supplier.poll(view(), T0 + timedelta(seconds=10))
    assert done.steps[-1].state is PoState.DELIVERED
    assert done.steps[-1].at == T0 + timedelta(seconds=10)
    with pytest.raises(AdapterError, match="in transit cannot be called back"):
        supplier.cancel(view(PoState.DELIVERING), T0)
    assert supplier.cancel(view(PoState.CONFIRMED), T0).steps == ()
