"""Detection: what each column holds in each row (`profile`), the type, format and problems
read off it (`detect`), a `messages` column read as another type (`readings`), and the
public layout an import would read (`layouthint`), and advice about extra columns beside
a type that fits (`besidehints`).
"""
