/*
 * control/wsman/wsman_names.h - namespace URIs, actions and resource URIs of WS-Management
 * as ferry speaks it (DMTF DSP0226, docs/DESIGN.md §4). Shared by the endpoint
 * (control/wsman/) and the client (control/cli/) so both sides spell them once.
 */
#ifndef FERRY_WSMAN_NAMES_H
#define FERRY_WSMAN_NAMES_H

#define WSMAN_NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define WSMAN_NS_ADDRESSING "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define WSMAN_NS_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define WSMAN_NS_ENUMERATION "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
#define WSMAN_NS_TRANSFER "http://schemas.xmlsoap.org/ws/2004/09/transfer"
#define WSMAN_NS_IDENTITY "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
#define WSMAN_NS_MSWSMAN "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
#define WSMAN_NS_CIMBINDING "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
#define WSMAN_NS_MSFAULT "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
#define WSMAN_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define WSMAN_NS_XML "http://www.w3.org/XML/1998/namespace"

#define WSMAN_ADDRESS_ANONYMOUS "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
#define WSMAN_FAULT_DETAIL_BASE "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"
#define WSMAN_CONTENT_TYPE "application/soap+xml;charset=UTF-8"

#define WSMAN_ACTION_GET WSMAN_NS_TRANSFER "/Get"
#define WSMAN_ACTION_GET_RESPONSE WSMAN_NS_TRANSFER "/GetResponse"
#define WSMAN_ACTION_PUT WSMAN_NS_TRANSFER "/Put"
#define WSMAN_ACTION_PUT_RESPONSE WSMAN_NS_TRANSFER "/PutResponse"
#define WSMAN_ACTION_CREATE WSMAN_NS_TRANSFER "/Create"
#define WSMAN_ACTION_DELETE WSMAN_NS_TRANSFER "/Delete"
#define WSMAN_ACTION_ENUMERATE WSMAN_NS_ENUMERATION "/Enumerate"
#define WSMAN_ACTION_ENUMERATE_RESPONSE WSMAN_NS_ENUMERATION "/EnumerateResponse"
#define WSMAN_ACTION_PULL WSMAN_NS_ENUMERATION "/Pull"
#define WSMAN_ACTION_PULL_RESPONSE WSMAN_NS_ENUMERATION "/PullResponse"
#define WSMAN_ACTION_RELEASE WSMAN_NS_ENUMERATION "/Release"
#define WSMAN_ACTION_RELEASE_RESPONSE WSMAN_NS_ENUMERATION "/ReleaseResponse"

#define WSMAN_ACTION_FAULT_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
#define WSMAN_ACTION_FAULT_ADDRESSING WSMAN_NS_ADDRESSING "/fault"
#define WSMAN_ACTION_FAULT_ENUMERATION WSMAN_NS_ENUMERATION "/fault"
#define WSMAN_ACTION_FAULT_TRANSFER WSMAN_NS_TRANSFER "/fault"

#define WSMAN_ENUM_MODE_EPR "EnumerateEPR"
#define WSMAN_ENUM_MODE_OBJECT_AND_EPR "EnumerateObjectAndEPR"

/* Microsoft's BITS provider classes, reached unchanged by PowerShell's
 * wmi/root/microsoft/bits/... aliases. */
#define WSMAN_URI_BITS_BASE "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/microsoft/bits/"
#define WSMAN_URI_BITS_CLIENT_JOB WSMAN_URI_BITS_BASE "BitsClientJob"
#define WSMAN_URI_BITS_CLIENT_FILE WSMAN_URI_BITS_BASE "BitsClientFile"
#define WSMAN_URI_BITS_URL_GROUP WSMAN_URI_BITS_BASE "BitsCompactServerUrlGroup"

#define WSMAN_PRODUCT_VENDOR "ferry"

#endif
