// web/app/categories.js: the categories a transaction can be given: those of the built-in
// knowledge (data/categories/*.tsv, the ones the ledger's PATCH accepts) and Other. The public
// API has no list of them yet; keep this in step with data/categories.
export const CATEGORIES = [
  'Dining', 'Entertainment', 'Fees', 'Groceries', 'Health', 'Housing', 'Income', 'Shopping',
  'Subscriptions', 'Transfers', 'Transport', 'Travel', 'Utilities', 'Other',
];
