"""Write-once run folders and their reading back, schema versions checked."""
