from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpufleet.domain.offer import HOURS_PER_MONTH, ContractKind

from factories import make_offer


def test_per_gpu_price_divides_the_unit_price() -> None:
    offer = make_offer(price_usd_per_hour=55.04, gpus_per_unit=8)
    assert offer.hourly_usd_per_gpu() == pytest.approx(6.88)


def test_fractional_gpu_units_price_per_whole_gpu() -> None:
    offer = make_offer(gpu="L4", gpus_per_unit=0.25, price_usd_per_hour=0.40)
    assert offer.hourly_usd_per_gpu() == pytest.approx(1.60)


def test_upfront_is_amortised_over_the_term() -> None:
    offer = make_offer(
        contract=ContractKind.OWNED,
        price_usd_per_hour=6.0,
        upfront_usd=250_000,
        term_months=48,
    )
    assert offer.hourly_usd() == pytest.approx(6.0 + 250_000 / (48 * HOURS_PER_MONTH))


def test_spot_price_is_used_only_when_asked() -> None:
    offer = make_offer(price_usd_per_hour=16.0, spot_price_usd_per_hour=6.0)
    assert offer.hourly_usd() == 16.0
    assert offer.hourly_usd(spot=True) == 6.0


def test_spot_only_offer_has_no_contract_price() -> None:
    offer = make_offer(
        contract=ContractKind.SPOT, price_usd_per_hour=None, spot_price_usd_per_hour=5.0
    )
    assert offer.hourly_usd() is None
    assert offer.hourly_usd_per_gpu(spot=True) == pytest.approx(5.0 / 8)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gpus_per_unit": 0}, "gpus_per_unit must be > 0"),
        ({"price_usd_per_hour": -1.0}, "price_usd_per_hour must be >= 0"),
        ({"price_usd_per_hour": None}, "needs price_usd_per_hour"),
        ({"contract": ContractKind.RESERVED}, "needs term_months"),
        ({"term_months": 12}, "only for reserved or owned"),
        ({"contract": ContractKind.SPOT, "price_usd_per_hour": None}, "needs spot_price"),
        ({"min_units": 0}, "min_units must be >= 1"),
        ({"min_units": 4, "capacity_units": 2}, "below min_units"),
        ({"lead_time_days": -3}, "lead_time_days must be >= 0"),
        ({"supplier": ""}, "supplier is empty"),
        ({"upfront_usd": 100_000.0}, "upfront_usd is only for reserved or owned"),
    ],
)
def test_invalid_offers_say_what_is_wrong(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_offer(**overrides)


def test_capacity_and_minimum_in_gpus() -> None:
    offer = make_offer(min_units=2, capacity_units=8)
    assert offer.min_gpus == 16
    assert offer.capacity_gpus == 64


@given(
    price=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    gpus=st.sampled_from([0.125, 0.25, 0.5, 1, 2, 4, 8, 16]),
)
def test_per_gpu_price_times_gpus_is_the_unit_price(price: float, gpus: float) -> None:
    offer = make_offer(price_usd_per_hour=price, gpus_per_unit=gpus)
    per_gpu = offer.hourly_usd_per_gpu()
    assert per_gpu is not None
    assert per_gpu * gpus == pytest.approx(price)
