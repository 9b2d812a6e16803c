import asyncio
from agent import AgentContext, ask, build_graph
from fhir_client.embedded import embedded_client
from tests.tools_datasets import load_dataset
from tools import make_toolset
async def main(ds):
    async with embedded_client(ds.store) as c:
        for rec in ds.patients:
            for q in ["Is she on amlodipine?", "Why is she on amLODIPine?"]:
                out = await ask(build_graph(), AgentContext(toolset=make_toolset(c, rec.id), model=None), q)
                if not out.answer and out.evidence:
                    print(q, out.notes[:3]); return
asyncio.run(main(load_dataset("fixtures")))
