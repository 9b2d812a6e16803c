import json, sys, pytest
import tests.test_replay_freeform as T
class F:
    def mktemp(self, n):
        import tempfile, pathlib; return pathlib.Path(tempfile.mkdtemp())
rep = T.freeform_report.__wrapped__(F())
json.dump(rep, open('/tmp/ff.json','w'))
