"""What a column holds and work on whole columns: Arrow types, numpy views, media placeholders,
string operations, conversation ends, packing.
"""
