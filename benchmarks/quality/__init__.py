"""Caption quality: the corpus of real pictures, the words expected of them, and the scorer."""
