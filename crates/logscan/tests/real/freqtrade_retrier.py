"""freqtrade's own exchange retrier (freqtrade/exchange/common.py), logging in freqtrade's own
format (freqtrade.loggers.LOGFORMAT) to the file named by argv[1]: the retry, backoff and
give-up lines `logscan --pack freqtrade` counts, as the installed freqtrade writes them.

Two exchange calls fail as a rate-limited and a refused-key exchange make them fail: a
DDosProtection (ccxt's 429) retried once then given up, and a TemporaryError of an
AuthenticationError retried once then given up.
"""

import logging
import sys

from freqtrade.exceptions import DDosProtection, TemporaryError
from freqtrade.exchange.common import retrier
from freqtrade.loggers import LOGFORMAT

logging.basicConfig(filename=sys.argv[1], format=LOGFORMAT, level=logging.INFO)


@retrier(retries=1)
def fetch_ticker():
    raise DDosProtection(
        'binance GET https://api.binance.com/api/v3/ticker/24hr 429 Too Many Requests '
        '{"code":-1003,"msg":"Too many requests; current limit is 6000 request weight per 1 MINUTE."}'
    )


@retrier(retries=1)
def get_balances():
    raise TemporaryError(
        "Could not get balance due to AuthenticationError. Message: binance "
        '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'
    )


for call in (fetch_ticker, get_balances):
    try:
        call()
    except TemporaryError:
        pass
