"""Privacy over HTTP: /me/consents, /me/privacy-zones, /me/export, /guardian-consents, /guardian-erasures."""
