"""Vaccine groups by CVX code, with the names clinicians use for each group.

The record names a product ("Influenza, seasonal, injectable, preservative free"); an
answer names the vaccine ("flu shot").  This table, from the CDC's CVX vaccine groups,
lets the ground truth accept either.  It is the replay's own table, not the tools'.
"""

from __future__ import annotations

__all__ = ["FLU_CVX", "VACCINE_GROUPS"]


def _cvx(codes: str) -> frozenset[str]:
    return frozenset(codes.split())


VACCINE_GROUPS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (
        _cvx("88 111 135 140 141 144 149 150 153 155 158 161 166 168 171 185 186 197 205"),
        ("influenza", "flu"),
    ),
    (_cvx("09 113 115 138 139"), ("tetanus", "Td", "Tdap")),
    (_cvx("20 106 107 110 120"), ("DTaP", "diphtheria")),
    (_cvx("31 52 83 84 85"), ("hepatitis A", "hep A")),
    (_cvx("08 43 44 45"), ("hepatitis B", "hep B")),
    (_cvx("33 100 109 133 152 215 216"), ("pneumococcal", "pneumonia")),
    (_cvx("121 187 188"), ("zoster", "shingles")),
    (_cvx("62 118 137 165"), ("HPV", "papillomavirus")),
    (_cvx("114 136 147 148 167 203"), ("meningococcal",)),
    (
        _cvx("207 208 210 211 212 213 217 218 219 221 228 229 230 300 301 302"),
        ("COVID-19", "SARS-CoV-2"),
    ),
    (_cvx("10 89"), ("polio", "IPV")),
    (_cvx("03 94"), ("MMR", "measles")),
    (_cvx("21"), ("varicella", "chickenpox")),
    (_cvx("17 46 47 48 49 51"), ("Hib", "Haemophilus")),
    (_cvx("116 119 122"), ("rotavirus",)),
)
FLU_CVX = VACCINE_GROUPS[0][0]
