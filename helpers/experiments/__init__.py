"""One module per notebook (nb01_data_size ... nb05_model_size) plus what they share: experiment arms,
verdicts, the forgetting check. Imports from core and data."""
