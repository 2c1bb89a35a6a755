"""Conversion: the graph of edges between dataset types (`graph`), the plan for one input
(`convert`), running it over a table or batch (`apply`), files streamed through it
(`stream`), and the count of every row in, out and refused (`ledger`).
"""
