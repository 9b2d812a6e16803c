import asyncio, sys
sys.argv=['x']
from tests.test_agent_reading_graph import *
import tests.test_agent_reading_graph as T
async def main():
    spezi = T.FIXTURES.parents[1] / "tests" / "data" / "synthea-external" / "spezi-mock-patients"
    path = next(spezi.glob("Milton509_Ortiz186_*.json"))
    (record,) = [r for r in T.records_from_bundles(spezi) if r.id in path.name]
    store = T.EmbeddedStore(":memory:")
    async with T.embedded_client(store, timeout=600.0) as client:
        await T.load_paths(client, [path], validate=False)
        from agent import AgentContext, ask, build_graph
        from tools import make_toolset
        out = await ask(build_graph(), AgentContext(toolset=make_toolset(client, record.id), model=None), "body temperature on 2020-12-02?")
        d = out.model_dump()
        print({k: d[k] for k in d if k not in ('evidence','steps')})
asyncio.run(main())
