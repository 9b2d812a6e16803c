import asyncio
from agent import AgentContext, ask, build_graph
from fhir_client.embedded import embedded_client
from tests.tools_datasets import load_dataset
from tools import make_toolset
from agent.extractive import extractive_answer

async def main(ds):
    async with embedded_client(ds.store) as c:
        for rec in ds.patients[:40]:
            out = await ask(build_graph(), AgentContext(toolset=make_toolset(c, rec.id), model=None), "is he on any insulin?")
            if not out.answer:
                print(rec.id); print(out.notes if hasattr(out,'notes') else out.model_dump().keys()); print(out.model_dump().get('warnings')); break
asyncio.run(main(load_dataset("hiv")))
