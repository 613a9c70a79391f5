"""An error class that only the node runtimes import (the driver rebuilds it as a RemoteError)."""


class StockError(Exception):
    pass
