# Shares of a CPU profile by component: each sample goes to the innermost frame
# that matches a component pattern (leaf first). Usage: python3 components.py FILE.pprof
import sys,re,subprocess
prof=sys.argv[1]  # a profile from this folder (symbolized: no binary needed)
out=subprocess.run(['go','tool','pprof','-traces',prof],capture_output=True,text=True).stdout
blocks=out.split('-----------+-------------------------------------------------------')
cats=[('syscall-write-http',['net/http.(*response).finishRequest','net/http.(*chunkWriter)','net/http.checkConnErrorWriter.Write']),
 ('syscall-read-http',['net/http.(*connReader)']),
 ('pgx',['jackc/pgx']),
 ('slog',['log/slog','redactingHandler']),
 ('validator',['kin-openapi','OapiRequestValidator','echo-middleware']),
 ('auth',['authenticate','authcache','requireScope']),
 ('ratelimit',['ratelimit','rateLimit','Limit']),
 ('coalescer',['store.(*coalescer)','queuedStatement']),
 ('scan',['plannedScan','sqlcdb']),
 ('handler',['server.(*Server).GetConnection','encode','strictHandler']),
 ('echo',['labstack/echo']),
 ('http-read',['net/http.(*conn).readRequest','textproto']),
 ('http-other',['net/http']),
 ('gc',['gcBgMarkWorker','gcDrain','gcAssist','bgsweep','bgscavenge']),
 ('sched',['runtime.mcall','runtime.schedule','findRunnable','runtime.park_m']),
]
tot={};T=0
for b in blocks:
    lines=[l for l in b.strip().split('\n') if l.strip()]
    if not lines: continue
    m=re.match(r'\s*([0-9.]+)(ms|s)\s+(.*)',lines[0])
    if not m: continue
    v=float(m.group(1))*(1 if m.group(2)=='ms' else 1000)
    frames=[m.group(3)]+[l.strip() for l in lines[1:]]
    T+=v
    # innermost-first: the first category whose pattern matches the deepest frame wins, scanning frames from leaf upward
    c='other'
    for f in frames:
        hit=None
        for name,pats in cats:
            if any(p in f for p in pats): hit=name;break
        if hit: c=hit;break
    tot[c]=tot.get(c,0)+v
for k,v in sorted(tot.items(),key=lambda x:-x[1]): print(f'{k:22s} {v/T*100:5.1f}%')
