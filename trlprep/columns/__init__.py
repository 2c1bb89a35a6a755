"""What a column holds and work on whole columns: Arrow types, JSON kinds, tool-call arguments,
image placeholders, string operations, conversation ends, packing.
"""
