"""Salesforce: accounts, opportunities (with stage history) and cases, over SOQL."""
