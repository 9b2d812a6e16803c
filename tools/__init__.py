"""Clinical question tools over FHIR that return compact, citable evidence.

    toolset = make_toolset(fhir_client, patient_id)
    result = await toolset.lab_results("A1c")          # or run_tool(toolset, name, args)
    print(result.render())  # header line, then "2024-12-24 HbA1c 7.1 % [Observation/..]"

Only ``fhir_client`` is used underneath; nothing here knows about LLMs.
"""

from tools.evidence import Evidence, EvidenceSeries, ToolResult, collapse_series
from tools.formatting import format_resource
from tools.registry import DEFAULT_TOOLS, TOOLS, ToolSpec, run_tool
from tools.schemas import TOOL_SCHEMAS, ToolArgumentError, validate_arguments
from tools.scope import PatientScope
from tools.toolset import PatientToolset, make_toolset

__all__ = [
    "DEFAULT_TOOLS",
    "TOOLS",
    "TOOL_SCHEMAS",
    "Evidence",
    "EvidenceSeries",
    "PatientScope",
    "PatientToolset",
    "ToolArgumentError",
    "ToolResult",
    "ToolSpec",
    "collapse_series",
    "format_resource",
    "make_toolset",
    "run_tool",
    "validate_arguments",
]
