'''ModemManager1 D-Bus mock template for python-dbusmock (0.28 ships none).

Covers what dataline's handset uses: the ObjectManager on
/org/freedesktop/ModemManager1, one Modem object with OwnNumbers, its
Modem.Messaging interface (List, Create, Delete, Messages) and Sms objects
with State/PduType/Number/Text/Timestamp and Send, as ModemManager 1.20
exposes them. Create, like ModemManager, wants "number" and "text" (we do
not mock "data") and makes an Sms object in State unknown (0); Send moves
it to sent (5) before it answers, as ModemManager's handle_send_ready does.

Voice: the modem's Modem.Voice interface (CreateCall, DeleteCall,
ListCalls, Calls) and Call objects (State i, StateReason i, Direction i,
Number s; Start, Hangup, signal StateChanged) as ModemManager 1.20 has
them. CreateCall wants "number" and makes a Call in State unknown (0),
direction outgoing (2); Start moves it to dialing (1), Hangup to
terminated (7).

Parameters (-p JSON): {"OwnNumbers": ["+8613800138000"], "no_modem": false,
  "no_messaging": false, "no_voice": false}
  no_messaging / no_voice: a modem without Modem.Messaging / Modem.Voice
Mock control (interface org.freedesktop.DBus.Mock on the main object):
  AddSms(number s, text s, timestamp s) -> o   a received SMS
  SetOwnNumbers(numbers as)
  SetError(method s, name s, message s)   every call of METHOD ("Create",
                                    "Send", "CreateCall", "Start" or
                                    "Hangup") fails with D-Bus error NAME
                                    until called again with NAME ''
  SetSentState(state u)             the State a successful Send leaves
                                    (default 5, sent)
  GetSent() -> a(oss)               (path, number, text) of each SMS whose
                                    Send succeeded, in order
  SetCallStartState(state i)        the State a successful Start leaves
                                    (default 1, dialing)
  GetCalls() -> a(osi)              (path, number, state) of every Call
                                    created, in order
Every Create/Delete (on the modem) and Send (on an Sms object) is also in
dbusmock's call log: org.freedesktop.DBus.Mock.GetMethodCalls on that object.
Usage: python3 -m dbusmock -s -t tests/mock/modemmanager.py -p '{...}'
'''

import dbus

import dbusmock

BUS_NAME = 'org.freedesktop.ModemManager1'
MAIN_OBJ = '/org/freedesktop/ModemManager1'
MAIN_IFACE = 'org.freedesktop.ModemManager1'
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

MODEM_IFACE = 'org.freedesktop.ModemManager1.Modem'
MSG_IFACE = 'org.freedesktop.ModemManager1.Modem.Messaging'
SMS_IFACE = 'org.freedesktop.ModemManager1.Sms'
MODEM_PATH = '/org/freedesktop/ModemManager1/Modem/0'

MM_SMS_STATE_UNKNOWN = 0
MM_SMS_STATE_RECEIVED = 3
MM_SMS_STATE_SENT = 5
MM_SMS_PDU_TYPE_DELIVER = 1
MM_SMS_PDU_TYPE_SUBMIT = 2
MM_ERROR_INVALID_ARGS = 'org.freedesktop.ModemManager1.Error.Core.InvalidArgs'
VOICE_IFACE = 'org.freedesktop.ModemManager1.Modem.Voice'
CALL_IFACE = 'org.freedesktop.ModemManager1.Call'
MM_CALL_STATE_UNKNOWN = 0
MM_CALL_STATE_DIALING = 1
MM_CALL_STATE_TERMINATED = 7
MM_CALL_DIRECTION_OUTGOING = 2


def load(mock, parameters):
    mock.sms_count = 0
    mock.errors = {}
    mock.sent_state = MM_SMS_STATE_SENT
    mock.sent = []
    mock.call_count = 0
    mock.call_start_state = MM_CALL_STATE_DIALING
    mock.calls = []
    mock.AddMethod(MAIN_IFACE, 'ScanDevices', '', '', '')
    if parameters.get('no_modem', False):
        return
    mock.AddObject(MODEM_PATH, MODEM_IFACE, {
        'OwnNumbers': dbus.Array(parameters.get('OwnNumbers', ['+8613800138000']),
                                 signature='s', variant_level=1),
        'State': dbus.Int32(8, variant_level=1),  # MM_MODEM_STATE_REGISTERED
        'Manufacturer': dbus.String('dataline-mock', variant_level=1),
        'Model': dbus.String('Mock Modem', variant_level=1),
        'EquipmentIdentifier': dbus.String('358240051111110', variant_level=1),
    }, [])
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    ifaces = {MODEM_IFACE: modem.GetAll(MODEM_IFACE)}
    if not parameters.get('no_voice', False):
        modem.AddProperties(VOICE_IFACE, {
            'Calls': dbus.Array([], signature='o', variant_level=1),
            'EmergencyOnly': dbus.Boolean(False, variant_level=1),
        })
        modem.AddMethod(VOICE_IFACE, 'ListCalls', '', 'ao',
                        'ret = self.Get("%s", "Calls")' % VOICE_IFACE)
        modem.AddMethod(VOICE_IFACE, 'CreateCall', 'a{sv}', 'o', voice_create_call)
        modem.AddMethod(VOICE_IFACE, 'DeleteCall', 'o', '', voice_delete_call)
        ifaces[VOICE_IFACE] = modem.GetAll(VOICE_IFACE)
    if parameters.get('no_messaging', False):
        mock.EmitSignal('org.freedesktop.DBus.ObjectManager', 'InterfacesAdded',
                        'oa{sa{sv}}', [MODEM_PATH, ifaces])
        return
    modem.AddProperties(MSG_IFACE, {
        'Messages': dbus.Array([], signature='o', variant_level=1),
        'SupportedStorages': dbus.Array([dbus.UInt32(2)], signature='u', variant_level=1),
        'DefaultStorage': dbus.UInt32(2, variant_level=1),
    })
    modem.AddMethod(MSG_IFACE, 'List', '', 'ao',
                    'ret = self.Get("%s", "Messages")' % MSG_IFACE)
    modem.AddMethod(MSG_IFACE, 'Create', 'a{sv}', 'o', messaging_create)
    modem.AddMethod(MSG_IFACE, 'Delete', 'o', '', messaging_delete)
    ifaces[MSG_IFACE] = modem.GetAll(MSG_IFACE)
    mock.EmitSignal('org.freedesktop.DBus.ObjectManager', 'InterfacesAdded',
                    'oa{sa{sv}}', [MODEM_PATH, ifaces])


def new_sms(main, number, text, timestamp, state, pdu_type, received):
    '''Adds an Sms object to the modem's Messages; returns its path.'''
    path = '/org/freedesktop/ModemManager1/SMS/%d' % main.sms_count
    main.sms_count += 1
    main.AddObject(path, SMS_IFACE, {
        'State': dbus.UInt32(state, variant_level=1),
        'PduType': dbus.UInt32(pdu_type, variant_level=1),
        'Number': dbus.String(number, variant_level=1),
        'Text': dbus.String(text, variant_level=1),
        'Timestamp': dbus.String(timestamp, variant_level=1),
        'Storage': dbus.UInt32(2 if received else 0, variant_level=1),
    }, [])
    dbusmock.mockobject.objects[path].AddMethod(SMS_IFACE, 'Send', '', '', sms_send)
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    msgs = list(modem.Get(MSG_IFACE, 'Messages')) + [dbus.ObjectPath(path)]
    modem.UpdateProperties(MSG_IFACE, {
        'Messages': dbus.Array(msgs, signature='o', variant_level=1)})
    modem.EmitSignal(MSG_IFACE, 'Added', 'ob', [dbus.ObjectPath(path), received])
    return dbus.ObjectPath(path)


def messaging_create(modem, props):
    '''Modem.Messaging.Create: a draft to send, State unknown.'''
    main = dbusmock.mockobject.objects[MAIN_OBJ]
    fail_if_set(main, 'Create')
    number, text = props.get('number'), props.get('text')
    if not isinstance(number, str) or not number or not isinstance(text, str):
        raise dbus.exceptions.DBusException(
            'Cannot create SMS: mandatory parameter missing', name=MM_ERROR_INVALID_ARGS)
    return new_sms(main, number, text, '', MM_SMS_STATE_UNKNOWN,
                   MM_SMS_PDU_TYPE_SUBMIT, False)


def messaging_delete(modem, path):
    '''Modem.Messaging.Delete: drops the Sms object.'''
    msgs = [p for p in modem.Get(MSG_IFACE, 'Messages') if p != path]
    if len(msgs) == len(modem.Get(MSG_IFACE, 'Messages')):
        raise dbus.exceptions.DBusException(
            'No SMS found with path ' + path,
            name='org.freedesktop.ModemManager1.Error.Core.NotFound')
    modem.UpdateProperties(MSG_IFACE, {
        'Messages': dbus.Array(msgs, signature='o', variant_level=1)})
    dbusmock.mockobject.objects[MAIN_OBJ].RemoveObject(path)
    modem.EmitSignal(MSG_IFACE, 'Deleted', 'o', [dbus.ObjectPath(path)])


def fail_if_set(main, method):
    '''Raises the error SetError gave for METHOD, if any.'''
    if method in main.errors:
        name, message = main.errors[method]
        raise dbus.exceptions.DBusException(message, name=name)


def sms_send(sms):
    '''Sms.Send: fails as SetError says, else State -> sent.'''
    main = dbusmock.mockobject.objects[MAIN_OBJ]
    fail_if_set(main, 'Send')
    sms.UpdateProperties(SMS_IFACE, {
        'State': dbus.UInt32(main.sent_state, variant_level=1)})
    main.sent.append((dbus.ObjectPath(sms.path), sms.Get(SMS_IFACE, 'Number'),
                      sms.Get(SMS_IFACE, 'Text')))


def voice_create_call(modem, props):
    '''Modem.Voice.CreateCall: an outgoing Call object, State unknown.'''
    main = dbusmock.mockobject.objects[MAIN_OBJ]
    fail_if_set(main, 'CreateCall')
    number = props.get('number')
    if not isinstance(number, str) or not number:
        raise dbus.exceptions.DBusException(
            'Cannot create call: invalid number', name=MM_ERROR_INVALID_ARGS)
    path = '/org/freedesktop/ModemManager1/Call/%d' % main.call_count
    main.call_count += 1
    main.AddObject(path, CALL_IFACE, {
        'State': dbus.Int32(MM_CALL_STATE_UNKNOWN, variant_level=1),
        'StateReason': dbus.Int32(0, variant_level=1),
        'Direction': dbus.Int32(MM_CALL_DIRECTION_OUTGOING, variant_level=1),
        'Number': dbus.String(number, variant_level=1),
        'Multiparty': dbus.Boolean(False, variant_level=1),
    }, [])
    call = dbusmock.mockobject.objects[path]
    call.AddMethod(CALL_IFACE, 'Start', '', '', call_start)
    call.AddMethod(CALL_IFACE, 'Hangup', '', '', call_hangup)
    main.calls.append(path)
    calls = list(modem.Get(VOICE_IFACE, 'Calls')) + [dbus.ObjectPath(path)]
    modem.UpdateProperties(VOICE_IFACE, {
        'Calls': dbus.Array(calls, signature='o', variant_level=1)})
    modem.EmitSignal(VOICE_IFACE, 'CallAdded', 'o', [dbus.ObjectPath(path)])
    return dbus.ObjectPath(path)


def voice_delete_call(modem, path):
    '''Modem.Voice.DeleteCall: drops the Call object (kept in GetCalls).'''
    calls = [p for p in modem.Get(VOICE_IFACE, 'Calls') if p != path]
    if len(calls) == len(modem.Get(VOICE_IFACE, 'Calls')):
        raise dbus.exceptions.DBusException(
            'No call found with path ' + path,
            name='org.freedesktop.ModemManager1.Error.Core.NotFound')
    modem.UpdateProperties(VOICE_IFACE, {
        'Calls': dbus.Array(calls, signature='o', variant_level=1)})
    main = dbusmock.mockobject.objects[MAIN_OBJ]
    modem.EmitSignal(VOICE_IFACE, 'CallDeleted', 'o', [dbus.ObjectPath(path)])


def call_set_state(call, state):
    old = call.Get(CALL_IFACE, 'State')
    call.UpdateProperties(CALL_IFACE, {'State': dbus.Int32(state, variant_level=1)})
    call.EmitSignal(CALL_IFACE, 'StateChanged', 'iiu', [old, state, 0])


def call_start(call):
    '''Call.Start: fails as SetError says, else State -> dialing.'''
    main = dbusmock.mockobject.objects[MAIN_OBJ]
    fail_if_set(main, 'Start')
    call_set_state(call, main.call_start_state)


def call_hangup(call):
    '''Call.Hangup: State -> terminated.'''
    fail_if_set(dbusmock.mockobject.objects[MAIN_OBJ], 'Hangup')
    call_set_state(call, MM_CALL_STATE_TERMINATED)


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='i', out_signature='')
def SetCallStartState(self, state):
    '''The State a successful Call.Start leaves.'''
    self.call_start_state = state


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='', out_signature='a(osi)')
def GetCalls(self):
    '''(path, number, state) of every Call created, in order.'''
    out = []
    for path in self.calls:
        obj = dbusmock.mockobject.objects.get(path)
        if obj is None:
            continue
        out.append((dbus.ObjectPath(path), obj.Get(CALL_IFACE, 'Number'),
                    obj.Get(CALL_IFACE, 'State')))
    return dbus.Array(out, signature='(osi)')


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='sss', out_signature='o')
def AddSms(self, number, text, timestamp):
    '''Adds a received SMS to the modem and returns its object path.'''
    return new_sms(self, number, text, timestamp, MM_SMS_STATE_RECEIVED,
                   MM_SMS_PDU_TYPE_DELIVER, True)


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='sss', out_signature='')
def SetError(self, method, name, message):
    '''Makes every METHOD (Create, Send) fail with D-Bus error NAME; '' restores it.'''
    if name:
        self.errors[method] = (name, message)
    else:
        self.errors.pop(method, None)


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='u', out_signature='')
def SetSentState(self, state):
    '''The State a successful Send leaves on the Sms object.'''
    self.sent_state = state


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='', out_signature='a(oss)')
def GetSent(self):
    '''(path, number, text) of every SMS whose Send succeeded.'''
    return dbus.Array(self.sent, signature='(oss)')


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='as', out_signature='')
def SetOwnNumbers(self, numbers):
    '''Replaces the modem's OwnNumbers.'''
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    modem.UpdateProperties(MODEM_IFACE, {
        'OwnNumbers': dbus.Array(numbers, signature='s', variant_level=1)})
