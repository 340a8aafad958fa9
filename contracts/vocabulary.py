"""Closed vocabularies of the court documents: release motives and warrant species."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "THRESHOLDS",
    "AlertThreshold",
    "DeadlineKind",
    "ReleaseMotive",
    "ReleaseOrderType",
    "WarrantSpecies",
]

# alvara_soltura: releases from a complied warrant; ordem_liberacao: serve outside prison
# (BNMP 2.0 only; a motive of the alvará in BNMP 3.0); ordem_desinternacao: ends an internment.
ReleaseOrderType = Literal["alvara_soltura", "ordem_liberacao", "ordem_desinternacao"]


class ReleaseMotive(StrEnum):
    """Motivo da expedição do alvará de soltura (R417 art.7, plus the older wording)."""

    PROVISIONAL_RELEASE = "provisional_release"  # liberdade provisória, with or without cautelar
    ARREST_RELAXED = "arrest_relaxed"  # relaxamento da prisão
    ACQUITTAL = "acquittal"  # absolvição
    POLICE_BAIL_PAID = "police_bail_paid"  # fiança arbitrada pela autoridade policial e paga
    TEMPORARY_ARREST_REVOKED = "temporary_arrest_revoked"  # revogação da temporária
    PREVENTIVE_ARREST_REVOKED = "preventive_arrest_revoked"  # revogação da preventiva
    INDICTMENT_REJECTED = "indictment_rejected"  # rejeição da denúncia
    NON_INDICTMENT = "non_indictment"  # impronúncia
    PROCEEDINGS_QUASHED = "proceedings_quashed"  # trancamento
    OPEN_REGIME_CONVICTION = "open_regime_conviction"  # condenação em regime aberto
    HOUSE_ARREST = "house_arrest"  # prisão domiciliar
    PUNISHABILITY_EXTINGUISHED = "punishability_extinguished"  # extinção da punibilidade
    SENTENCE_EXTINGUISHED = "sentence_extinguished"  # extinção da pena
    REGIME_PROGRESSION = "regime_progression"  # progressão de regime
    SEMI_OPEN_WITH_CONDITIONS = "semi_open_with_conditions"  # semiaberto com condições
    PAROLE = "parole"  # livramento condicional
    ALIMONY_DEBT_PAID = "alimony_debt_paid"  # quitação do débito alimentar
    INDIGENOUS_SEMI_LIBERTY = "indigenous_semi_liberty"  # semiliberdade indígena
    HABEAS_CORPUS = "habeas_corpus"  # older wording
    TEMPORARY_ARREST_ENDED = "temporary_arrest_ended"  # término da temporária (older wording)
    HUMANITARIAN_PARDON = "humanitarian_pardon"  # indulto humanitário (older wording)
    SECURITY_MEASURE_ENDED = "security_measure_ended"  # desinternação: medida de segurança ends


class WarrantSpecies(StrEnum):
    """Espécie do mandado (R417 art.2 and art.11 sole §)."""

    PREVENTIVE = "preventive"  # prisão preventiva
    TEMPORARY = "temporary"  # prisão temporária (needs a term)
    CONVICTION = "conviction"  # prisão em razão de condenação
    RECAPTURE = "recapture"  # recaptura after fuga/evasão
    CIVIL_ALIMONY = "civil_alimony"  # prisão civil por alimentos
    EXTRADITION = "extradition"  # deportação / extradição / expulsão
    INTERNMENT = "internment"  # mandado de internação
    ELECTRONIC_MONITORING = "electronic_monitoring"  # mandado de monitoramento eletrônico
    ALTERNATIVE_MEASURE = "alternative_measure"  # medida cautelar diversa / medida protetiva

    @property
    def needs_measure_end(self) -> bool:
        """Return whether the species is a measure that must have an end date (R417 art.14, 19)."""
        return self in _MEASURES


_MEASURES = frozenset({WarrantSpecies.ELECTRONIC_MONITORING, WarrantSpecies.ALTERNATIVE_MEASURE})


class DeadlineKind(StrEnum):
    """A deadline the hub watches for a release order (R417 arts. 6, 9 and 25; S001 art.375)."""

    RECEIPT = "receipt"  # the custodial unit acknowledges receipt
    VALIDATION = "validation"  # SETARIM issues the validation certificate
    COMPLIANCE = "compliance"  # the order is complied with: 24 h from issue (R417 art.6)
    BNMP_REGISTRATION = "bnmp_registration"  # BNMP records the document or certificate: 24 h
    IMPEDIMENT_REGULARISATION = "impediment_regularisation"  # origin court answers: 24 h (S000)


# Percentages of a deadline's span at which the hub raises an alert.
AlertThreshold = Literal[50, 90, 100]
THRESHOLDS: Final[tuple[AlertThreshold, ...]] = (50, 90, 100)
