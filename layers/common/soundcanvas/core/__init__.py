"""What every product uses: settings, records, cursors, errors and their API mapping, step runtime,
storage keys, quotas and failure descriptions."""
