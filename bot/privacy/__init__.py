"""What the bot keeps and for how long: private files, keyed hashes of referent
addresses, redaction of the Rasa tracker, retention of inactive people."""
