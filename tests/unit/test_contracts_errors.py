"""The contracts' error tree: reasons, messages, pickling, and pydantic error translation."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from contracts import ContractError, IllegalTransition, ReleaseOrderIssued, from_validation_error
from tests.factories import CPF, make_release_order


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ContractError("bad cnj", reason="invalid_cnj"), id="contract-error"),
        pytest.param(IllegalTransition("no", reason="duplicate"), id="illegal-transition"),
        pytest.param(IllegalTransition("no"), id="default-reason"),
    ],
)
def test_errors_pickle_with_their_reason(error: ContractError) -> None:
    """A pickled and unpickled error keeps its class, message and reason."""
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert (str(clone), clone.reason) == (str(error), error.reason)


def test_error_defaults_and_text() -> None:
    """Default reasons come from the class; str() is the message and repr() names the reason."""
    assert ContractError("x").reason == "invalid_contract"
    assert IllegalTransition("x").reason == "illegal_transition"
    assert str(ContractError("CNJ number is unmasked")) == "CNJ number is unmasked"
    assert repr(IllegalTransition("m", reason="duplicate")) == (
        "IllegalTransition('m', reason='duplicate')"
    )
    assert isinstance(IllegalTransition("x"), ValueError)


def test_validation_errors_become_contract_errors_without_input() -> None:
    """A pydantic error is listed field by field, and no input value leaks into the message."""
    data = make_release_order().model_dump()
    data["person"] = {"cpf": "123.456.789-08", "name": "Fulano"}
    data["judge"] = ""
    with pytest.raises(ValidationError) as caught:
        ReleaseOrderIssued.model_validate(data)
    error = from_validation_error(caught.value, subject="release order", reason="invalid_payload")
    assert error.reason == "invalid_payload"
    assert str(error).startswith("invalid release order: ")
    assert "person.cpf: Value error, CPF has wrong check digits 08, expected 09" in str(error)
    assert "judge: " in str(error)
    assert "123.456.789-08" not in str(error)
    assert CPF not in str(error)


def test_long_error_lists_are_truncated() -> None:
    """More than twelve field errors are summarised with a count."""
    with pytest.raises(ValidationError) as caught:
        ReleaseOrderIssued.model_validate({"kind": 1, "covered_warrants": ["x"] * 20})
    assert "... and " in str(from_validation_error(caught.value, subject="x"))
