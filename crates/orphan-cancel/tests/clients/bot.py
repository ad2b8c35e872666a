"""A trading bot's side of the interop tests: the exchanges' own client libraries (pybit for
Bybit v5, krakenex for Kraken spot), unchanged, pointed at exchange-sim's loopback URL.

Usage: python bot.py COMMAND URL [ARGS]; credentials come from BYBIT_API_KEY/BYBIT_API_SECRET
and KRAKEN_API_KEY/KRAKEN_API_SECRET, never from the command line. Every command prints one
JSON object on stdout.

  bybit-place URL N_BOT N_MANUAL     place linear limit orders, BOT_-tagged and manual ones
  bybit-open URL                     every open linear USDT order (all pages)
  kraken-place URL N_BOT N_MANUAL    the same on Kraken spot (cl_ord_id tags)
  kraken-open URL                    every open Kraken order
  kraken-trade URL STOP_FILE         place, list and cancel until STOP_FILE exists; report every
                                     refusal (the dead-man switch test)
  startup URL                        what bots call first: server time, balances, a query of an
                                     order, a custom recv_window; report each answer or error
"""

import json
import os
import sys
import time

import krakenex
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

# krakenex signs with int(1000 * time.time()): two private calls within one millisecond would
# reuse a nonce, which the real exchange refuses too. A bot paces its calls; so does this one.
KRAKEN_CALL_GAP_S = 0.003


def bybit(url, recv_window=5000):
    session = HTTP(
        testnet=False,
        api_key=os.environ["BYBIT_API_KEY"],
        api_secret=os.environ["BYBIT_API_SECRET"],
        max_retries=1,
        recv_window=recv_window,
    )
    session.endpoint = url
    return session


def kraken(url):
    api = krakenex.API(os.environ["KRAKEN_API_KEY"], os.environ["KRAKEN_API_SECRET"])
    api.uri = url
    return api


def kraken_private(api, method, data=None):
    reply = api.query_private(method, data)
    time.sleep(KRAKEN_CALL_GAP_S)
    return reply


def bybit_place(url, n_bot, n_manual):
    s = bybit(url)
    placed = []
    tags = [f"BOT_b{i}" for i in range(n_bot)] + [f"manual-b{i}" for i in range(n_manual)]
    for i, tag in enumerate(tags):
        r = s.place_order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy" if i % 2 == 0 else "Sell",
            orderType="Limit",
            qty="0.001",
            price=str(20000 + i),
            timeInForce="GTC",
            orderLinkId=tag,
        )
        placed.append({"orderId": r["result"]["orderId"], "orderLinkId": tag})
    return {"placed": placed}


def bybit_open(url):
    s = bybit(url)
    open_orders, cursor = [], None
    while True:
        r = s.get_open_orders(category="linear", settleCoin="USDT", limit=50, cursor=cursor)
        open_orders += [
            {"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]} for o in r["result"]["list"]
        ]
        cursor = r["result"].get("nextPageCursor")
        if not cursor:
            return {"open": open_orders}


def kraken_place(url, n_bot, n_manual):
    api = kraken(url)
    placed, refused = [], []
    tags = [f"BOT_k{i}" for i in range(n_bot)] + [f"manual-k{i}" for i in range(n_manual)]
    for i, tag in enumerate(tags):
        r = kraken_private(
            api,
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy" if i % 2 == 0 else "sell",
                "ordertype": "limit",
                "price": str(20000 + i),
                "volume": "0.01",
                "cl_ord_id": tag,
            },
        )
        if r.get("error"):
            refused.append(r["error"])
        else:
            placed.append({"txid": r["result"]["txid"][0], "cl_ord_id": tag})
    return {"placed": placed, "refused": refused}


def kraken_open(url):
    r = kraken_private(kraken(url), "OpenOrders")
    if r.get("error"):
        return {"refused": r["error"]}
    return {
        "open": [{"txid": t, "cl_ord_id": o.get("cl_ord_id")} for t, o in r["result"]["open"].items()]
    }


def kraken_trade(url, stop_file):
    """Trades as a live bot would while another process uses the same account."""
    api = kraken(url)
    requests, refused, i = 0, [], 0
    while not os.path.exists(stop_file):
        r = kraken_private(
            api,
            "AddOrder",
            {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "19000",
             "volume": "0.01", "cl_ord_id": f"BOT_t{i}"},
        )
        requests += 1
        if r.get("error"):
            refused.append({"method": "AddOrder", "error": r["error"]})
            continue
        txid = r["result"]["txid"][0]
        r = kraken_private(api, "OpenOrders")
        requests += 1
        if r.get("error"):
            refused.append({"method": "OpenOrders", "error": r["error"]})
        elif txid not in r["result"]["open"]:
            refused.append({"method": "OpenOrders", "error": [f"{txid} missing"]})
        if i % 2 == 1:
            r = kraken_private(api, "CancelOrder", {"txid": txid})
            requests += 1
            if r.get("error"):
                refused.append({"method": "CancelOrder", "error": r["error"]})
        i += 1
    return {"requests": requests, "refused": refused}


def pybit_answer(call):
    """The answer's retCode, or how pybit reported the failure."""
    try:
        return {"retCode": call()["retCode"]}
    except InvalidRequestError as e:
        return {"invalid_request": e.status_code, "message": e.message}
    except FailedRequestError as e:
        return {"http_status": e.status_code, "message": e.message}


def startup(url):
    s = bybit(url)
    api = kraken(url)
    placed = kraken_private(
        api,
        "AddOrder",
        {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "90000",
         "volume": "0.01", "userref": "42"},
    )
    txid = placed["result"]["txid"][0]
    queried = kraken_private(api, "QueryOrders", {"txid": txid})
    return {
        "bybit_time": pybit_answer(s.get_server_time),
        "bybit_wallet": pybit_answer(lambda: s.get_wallet_balance(accountType="UNIFIED")),
        "bybit_wide_window": pybit_answer(
            lambda: bybit(url, recv_window=20000).get_open_orders(category="spot")
        ),
        "kraken_time": api.query_public("Time"),
        "kraken_balance": kraken_private(api, "Balance"),
        "kraken_by_userref": kraken_private(api, "OpenOrders", {"userref": "42"}),
        "kraken_query": {"txid": txid, "answer": queried},
    }


def main(argv):
    command, url, rest = argv[1], argv[2], argv[3:]
    if command == "bybit-place":
        out = bybit_place(url, int(rest[0]), int(rest[1]))
    elif command == "bybit-open":
        out = bybit_open(url)
    elif command == "kraken-place":
        out = kraken_place(url, int(rest[0]), int(rest[1]))
    elif command == "kraken-open":
        out = kraken_open(url)
    elif command == "kraken-trade":
        out = kraken_trade(url, rest[0])
    elif command == "startup":
        out = startup(url)
    else:
        print(f"bot.py: unknown command {command!r}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
