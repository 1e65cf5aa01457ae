"""(k) The console's accounts screen in Debian's Chromium: how long from asking for `/accounts` to a
usable list (the first page's rows on screen, the Edit menus with them), over the book under test.

The browser is driven as scripts/console-test drives it (scripts/browserlib.py, on a pipe). The
token is put in the tab's session storage, as the sign-in form would, before the first load. A
script added to every new document (by the DevTools protocol, so the page's Content-Security-
Policy does not apply to it) notes `performance.now()` when the first row of the list appears;
that instant, counted from the navigation's start, is the figure. The first load has an empty
cache (what a new operator waits for); the others reload with the cache a browser keeps (assets
are cached for a year, the page is revalidated). The page's transfer size is what the network
carried for the cold load."""

import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts"))
from browserlib import Browser, Failure, Tab  # noqa: E402

TOKEN_KEY = "fathom.console.token"
WATCH = """
(() => {
  const seen = () => {
    if (!window.__usable && document.querySelector('table.accounts tbody tr .menu')) {
      window.__usable = performance.now();
      return true;
    }
    return false;
  };
  new MutationObserver((_, o) => { if (seen()) o.disconnect(); })
    .observe(document, {childList: true, subtree: true});
})();
"""


def chromium():
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def accounts_screen(base, token, loads=10):
    """Times `loads` loads of base/accounts; {"cold_ms", "warm_p50_ms", "warm_max_ms", "kib"}."""
    binary = chromium()
    if not binary:
        return None
    workdir = tempfile.mkdtemp(prefix="fathom-bench-console.")
    browser = Browser(binary, workdir)
    try:
        tab = Tab(browser)
        tab.send("Network.setCacheDisabled", {"cacheDisabled": True})
        tab.open(base + "/")
        tab.eval(f"sessionStorage.setItem('{TOKEN_KEY}', {token!r})")
        tab.send("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        times = []
        for i in range(loads):
            if i == 1:
                tab.send("Network.setCacheDisabled", {"cacheDisabled": False})
            before = len(tab.events("Network.loadingFinished"))
            tab.open(base + "/accounts")
            usable = tab.wait_for("window.__usable", "the accounts list usable", timeout=30)
            times.append(usable)
            if i == 0:
                time.sleep(0.5)  # the last responses' sizes
                kib = sum(e.get("encodedDataLength", 0) for e in tab.events("Network.loadingFinished")[before:]) / 1024
        warm = times[1:] or times
        return {"cold_ms": times[0], "warm_p50_ms": statistics.median(warm), "warm_max_ms": max(warm),
                "loads": loads, "kib": kib}
    except Failure as e:
        return {"error": str(e)}
    finally:
        browser.close()
        shutil.rmtree(workdir, ignore_errors=True)
