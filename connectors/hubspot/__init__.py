"""HubSpot CRM: companies as customer accounts, deals with their stage history."""
