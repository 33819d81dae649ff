"""Pure domain rules of hrss-credit: no I/O, no framework imports."""
