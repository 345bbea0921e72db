"""Use cases. Each public function is one transaction: load, check, change, audit, commit."""
