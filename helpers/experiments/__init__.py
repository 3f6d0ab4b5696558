"""One module per notebook (nb01_data_size ... nb07_synthetic_data) plus what they share: experiment arms,
verdicts, the forgetting check. Imports from core and data."""
