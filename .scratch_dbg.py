import asyncio
from agent import AgentContext, ask, build_graph
from fhir_client.embedded import embedded_client
from tests import agent_truth as truth
from tests.tools_datasets import load_dataset
from tools import make_toolset

async def main(ds):
    async with embedded_client(ds.store) as c:
        for rec in ds.patients:
            exp = truth.active_allergies(rec)
            out = await ask(build_graph(), AgentContext(toolset=make_toolset(c, rec.id), model=None), "Does the patient have any allergies?")
            got = truth.cited(out.answer)
            if got != exp:
                print(rec.id, len(exp), len(got)); print(out.answer[:3000]); print([ (s.tool, s.arguments, s.count) for s in out.steps])
asyncio.run(main(load_dataset("spezi")))
