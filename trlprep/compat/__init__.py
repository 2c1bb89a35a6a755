"""TRL's data helpers (`trl.data_utils`) under TRL's names and signatures."""
