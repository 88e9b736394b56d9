package api

// The operations and members newer than the model the AWS CLI in Debian ships (2.9.19):
// their constraints, written from the service's API reference.

// extraInputShapes names the request shapes of operations the generated model lacks.
var extraInputShapes = map[string]string{
	"ListApplicationOperations":    "ListApplicationOperationsRequest",
	"DescribeApplicationOperation": "DescribeApplicationOperationRequest",
}

// extraShapes are the constraints of shapes the generated model lacks.
var extraShapes = map[string]*shape{
	"ListApplicationOperationsRequest": {kind: "structure", members: []member{
		{name: "ApplicationName", shape: "ApplicationName", required: true},
		{name: "Limit", shape: "ListApplicationOperationsInputLimit"},
		{name: "NextToken", shape: "NextToken"},
		{name: "Operation", shape: "Operation"},
		{name: "OperationStatus", shape: "OperationStatus"},
	}},
	"ListApplicationOperationsInputLimit": {kind: "integer", min: 1, hasMin: true, max: 50, hasMax: true},
	"Operation":                           {kind: "string", min: 1, hasMin: true, max: 64, hasMax: true},
	"OperationStatus":                     {kind: "string"},
	"OperationId":                         {kind: "string", min: 1, hasMin: true, max: 64, hasMax: true},
	"DescribeApplicationOperationRequest": {kind: "structure", members: []member{
		{name: "ApplicationName", shape: "ApplicationName", required: true},
		{name: "OperationId", shape: "OperationId", required: true},
	}},
}
