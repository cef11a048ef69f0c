"""tapcheck: the "ok NAME" / "not ok NAME - why" lines the Python helpers
of the integration tests print (scripts/run-tests.sh counts them).
    from tapcheck import check; ...; sys.exit(tapcheck.failed)"""
failed = 0


def check(name, cond, why=""):
    global failed
    if cond:
        print("ok", name, flush=True)
    else:
        failed = 1
        print("not ok %s - %s" % (name, why), flush=True)
