"""Storage behind the rails and the flow: interfaces in `base`, DynamoDB backends in `dynamodb`,
in-memory ones in `memory` (logic tests, local tools). Import the submodule you need."""
